"""HAProxy's side of the files and the runtime API in plain text: bluegreen's backend section as
rendered, and which colour `show servers state` says takes new requests (no HAProxy needed).

The backend holds two servers named `blue` and `green`; the one that is not live starts
`disabled` after a restart, and with no server usable (nothing live yet) the backend answers 503
itself. The sessions rules and tables (haproxy/sessions.py) and the preview and canary rules
(haproxy/routes.py) are rendered in by their own modules.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from console.core.contracts.proxy import COLOR_HEADER, NO_LIVE_TEXT, UNANSWERED, ReadBack
from console.core.model import COLORS, Color
from console.drivers.proxy.haproxy.routes import render_rules
from console.drivers.proxy.routes import NO_ROUTES, Routes

# srv_admin_state bits that keep new requests off a server: forced/inherited maint and drain,
# resolution and hostname maint. 0x04 only records `disabled` in the config file.
NOT_ROUTABLE = 0x01 | 0x02 | 0x08 | 0x10 | 0x20 | 0x40


def render_backend(
    backend: str,
    blue_port: int,
    green_port: int,
    live: Color | None,
    routes: Routes = NO_ROUTES,
    routes_map: Path | None = None,
    sessions: str = "",
    targets: dict[Color, str] | None = None,
) -> str:
    """The backend section; a server that is not live starts `disabled` after a restart, and
    with no server usable (nothing live yet) the backend answers 503 itself. With `routes_map`,
    the preview and canary rules (haproxy/routes) choose the server per request, after the
    `sessions` rules (haproxy/sessions). `targets`: where each colour's server points instead
    of 127.0.0.1:PORT (its replicas' section, haproxy/replicas)."""
    ports = {"blue": blue_port, "green": green_port}
    where = targets or {color: f"127.0.0.1:{ports[color]}" for color in COLORS}
    servers = "".join(
        f"    server {color} {where[color]}{'' if color == live else ' disabled'}\n"
        for color in COLORS
    )
    return (
        f"backend {backend}\n"
        "    # bluegreen switches these two servers through the runtime API (no reload).\n"
        f"    http-request return status 503 content-type text/plain string "
        f'"{NO_LIVE_TEXT}" if {{ nbsrv eq 0 }}\n'
        f"    http-response set-header {COLOR_HEADER} %[srv_name]\n"
        f"{sessions}{render_rules(routes, routes_map) if routes_map else ''}"
        f"{servers}"
    )


def server_rows(text: str, backend: str) -> list[dict[str, str]]:
    """`show servers state <backend>` → its servers' rows, each {column: value}, in order."""
    columns: list[str] = []
    rows: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.startswith("# "):
            columns = line[2:].split()
            continue
        fields = line.split()
        if not columns or len(fields) < len(columns):
            continue
        row = dict(zip(columns, fields, strict=False))
        if row.get("be_name") == backend:
            rows.append(row)
    return rows


def parse_servers_state(text: str, backend: str) -> dict[str, int]:
    """`show servers state <backend>` → {server name: srv_admin_state}."""
    states: dict[str, int] = {}
    for row in server_rows(text, backend):
        with contextlib.suppress(KeyError, ValueError):
            states[row["srv_name"]] = int(row["srv_admin_state"])
    return states


def routed_color(states: dict[str, int]) -> Color | None:
    """The one colour taking new requests, or None if none or both do."""
    routable = [c for c in COLORS if c in states and not states[c] & NOT_ROUTABLE]
    return routable[0] if len(routable) == 1 else None


def routing(states: dict[str, int]) -> ReadBack:
    routable = [c for c in COLORS if c in states and not states[c] & NOT_ROUTABLE]
    if len(routable) > 1:
        return UNANSWERED  # both take traffic: no one colour can be named
    return ReadBack(True, routable[0] if routable else None)
