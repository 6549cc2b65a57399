"""`[[proxy.edges]]`: more edge proxies beside `[proxy]`, switched together, all or none.

`[proxy]` stays the default edge (named "default"); each `[[proxy.edges]]` entry is one more proxy
with every `[proxy]` key, overriding only where it is: its address (`proxy_url`, where its switch
verifies), its admin endpoint (nginx `admin_url` or `admin_socket`, HAProxy `admin_socket`, which
may be TCP: `ipv4@10.0.0.7:9999`), the directory bluegreen owns on it (`include_dir`) and its
commands. An edge of another kind (`kind = "haproxy"` beside an nginx `[proxy]`, or the other way)
takes the keys every proxy shares from `[proxy]` and its own kind's defaults for the rest (`mode`,
`backend`, the commands). No entry: one proxy, exactly as before. The composite that drives them
is console/drivers/proxy/edges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_EDGE = "default"  # the name `[proxy]` itself carries among the edges
_EDGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
EDGE_KINDS = ("nginx", "haproxy")


@dataclass(frozen=True)
class EdgeConfig:
    """One more edge proxy: its name and where it is; "" or [] = the `[proxy]` value."""

    name: str = ""
    kind: str = ""  # "" = [proxy]'s kind; "nginx" or "haproxy" for an edge of another kind
    mode: str = ""  # nginx: "live" or "reload" ("" = [proxy]'s, or live)
    backend: str = ""  # HAProxy: its backend ("" = [proxy]'s, or bluegreen)
    # The host named in messages and status ("" = the host of proxy_url).
    host: str = ""
    proxy_url: str = ""  # required: where clients reach this edge, and its switch verifies
    admin_url: str = ""  # nginx live mode: its TCP admin endpoint (the token is the state dir's)
    admin_socket: str = ""  # nginx's unix admin socket, or HAProxy's runtime API socket
    include_dir: str = ""
    test_command: list[str] = field(default_factory=list)
    reload_command: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        """The host this edge runs on, as messages name it."""
        return self.host or urlsplit(self.proxy_url).hostname or self.proxy_url

    def overrides(self, kind_keys: set[str]) -> dict[str, object]:
        """The `[proxy]` keys this edge sets, among those its kind has."""
        values: dict[str, object] = {
            "proxy_url": self.proxy_url,
            "admin_url": self.admin_url,
            "admin_socket": self.admin_socket,
            "include_dir": self.include_dir,
            "test_command": self.test_command,
            "reload_command": self.reload_command,
            "mode": self.mode,
            "backend": self.backend,
        }
        return {k: v for k, v in values.items() if v not in ("", []) and k in kind_keys}


@dataclass(frozen=True, slots=True)
class EdgePlace:
    """Where one edge's driver acts, for the checks: the keys two edges must not share."""

    name: str
    admin: str  # its admin endpoint (URL or socket path)
    include_dir: str


def edge_problems(edges: list[EdgeConfig], default: EdgePlace, proxy_kind: str) -> list[str]:
    """What is wrong with `[[proxy.edges]]`, one phrase each (config/checks.py joins them).
    `default`: where `[proxy]` itself acts; `proxy_kind`: its kind."""
    if not edges:
        return []
    problems: list[str] = []
    names = [DEFAULT_EDGE]
    places = [default]
    for index, edge in enumerate(edges):
        at = f"proxy.edges[{index}]"
        if not _EDGE_NAME.fullmatch(edge.name):
            problems.append(
                f"{at}.name '{edge.name}' must name the edge (letters, digits, '.', '-', '_'), "
                "e.g. edge-2"
            )
        elif edge.name in names:
            problems.append(f"{at}.name '{edge.name}' is taken: give each edge its own name")
        names.append(edge.name)
        if not edge.proxy_url:
            problems.append(
                f"{at}.proxy_url is empty: each edge needs the URL its clients reach it at "
                "(its switch verifies there)"
            )
        kind = edge.kind or proxy_kind
        problems += _kind_problems(at, edge, kind)
        if kind == "haproxy" and edge.admin_url:
            problems.append(
                f"{at}.admin_url is for nginx: an HAProxy edge is driven through its "
                "admin_socket (the runtime API)"
            )
        admin = edge.admin_url or edge.admin_socket
        if not admin:
            problems.append(
                f"{at} needs its own admin endpoint: set admin_url (nginx, TCP with the token) "
                "or admin_socket"
            )
        places.append(EdgePlace(edge.name, admin, edge.include_dir or default.include_dir))
    problems += _shared(places, "admin", "admin endpoint")
    problems += _shared(places, "include_dir", "include_dir")
    return problems


def _kind_problems(at: str, edge: EdgeConfig, kind: str) -> list[str]:
    if kind not in EDGE_KINDS:
        return [f"{at}.kind '{edge.kind}' is not a proxy bluegreen drives: use nginx or haproxy"]
    problems = []
    if edge.mode and (kind != "nginx" or edge.mode not in ("live", "reload")):
        problems.append(
            f"{at}.mode '{edge.mode}' is for an nginx edge: live or reload (remove it from an "
            "HAProxy edge)"
        )
    if edge.backend and kind != "haproxy":
        problems.append(f"{at}.backend is for an HAProxy edge: remove it from an nginx edge")
    return problems


def _shared(places: list[EdgePlace], key: str, what: str) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for place in places:
        value = getattr(place, key)
        if not value:
            continue
        if value in seen:
            problems.append(
                f"edges '{seen[value]}' and '{place.name}' share the {what} {value}: each "
                "edge needs its own"
            )
        seen.setdefault(value, place.name)
    return problems
