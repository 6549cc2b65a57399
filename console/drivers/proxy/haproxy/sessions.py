"""Sessions kept on their colour in HAProxy ([sessions], issue 26.1): a map and two backend rules,
and HAProxy's own count of sessions per colour.

The rule lives in a map file bluegreen owns (`old`, `match`, `new`), loaded at start and changed
at runtime (`clear map` / `add map`, no reload), rewritten atomically so a restart keeps it. The
backend's rules, before the preview and canary ones (haproxy/routes.py), put `old` in
`txn.bg_pick` when the request's session cookie equals `match` — so `use-server` sends it to the
old colour, whose server is in `drain` (weight 0, still up) after the switch — and a preview
header still wins. While the old colour is live the rule names the live colour: it changes
nothing, which is why the core sets it before the switch.

The count (without `[sessions.source]`): each colour has a stick-table of its own, keyed by the
CRC32 of the `count_cookie` (the session's id never sits in HAProxy's memory in clear, as in
nginx) with `expire` = the window. Once the response is known (`srv_name` names the colour that
served it) the entry is tracked in that colour's table, which refreshes its expiry, so a table's
`used` — one line of `show table` on the admin socket, whatever its size — is the number of
distinct sessions that colour served in the window. The tracking takes sticky counter 2 of the
request (`track-sc2`): a frontend of yours that tracks sc2 itself takes precedence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from console.core.config.schema import Config
from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions
from console.core.fsutil import StateDirError, atomic_write
from console.core.model import COLORS

SESSIONS_MAP_FILE = "bluegreen-haproxy-sessions.map"
_SHOW_MAP_LINE = re.compile(r"^0x[0-9a-f]+ (old|match|new) (\S+)$", re.MULTILINE)
_SHOW_TABLE_LINE = re.compile(r"^# table: (\S+), type: \w+, size:\d+, used:(\d+)", re.MULTILINE)
TABLE_SIZE = 100_000  # sessions per colour and window HAProxy keeps at most (~50 bytes each)


def render_sessions_map(kept: KeptSessions | None) -> str:
    text = "# bluegreen: the sessions kept on their colour (changed at runtime).\n"
    if kept is not None:
        text += f"old {kept.old}\nnew {kept.new}\nmatch {kept.match}\n"
    return text


def parse_sessions(values: dict[str, str]) -> KeptSessions | None:
    old, new, match = values.get("old"), values.get("new"), values.get("match")
    if old not in COLORS or new not in COLORS or old == new or not match:
        return None
    return KeptSessions("blue" if old == "blue" else "green", match, new)


def session_rules(cookie: str, map_path: Path, count_cookie: str = "", backend: str = "") -> str:
    """The backend's lines keeping a matching session on its colour ("" = no [sessions]), and
    noting each `count_cookie` under the colour that served it (`backend`'s tables)."""
    if not cookie:
        return ""
    text = (
        "    # Sessions kept on the colour they started on (bluegreen's haproxy/sessions.py).\n"
        f"    http-request set-var(txn.bg_keep) str(match),map({map_path})\n"
        f"    http-request set-var(txn.bg_pick) str(old),map({map_path}) "
        f"if {{ var(txn.bg_keep) -m found }} {{ req.cook({cookie}),strcmp(txn.bg_keep) eq 0 }}\n"
    )
    if not count_cookie:
        return text
    text += (
        "    # Sessions seen per colour: each session once per colour's table (haproxy/sessions).\n"
        f"    http-request set-var(txn.bg_sid) req.cook({count_cookie}),crc32 "
        f"if {{ req.cook({count_cookie}) -m len gt 0 }}\n"
    )
    for color in COLORS:
        text += (
            f"    http-response track-sc2 var(txn.bg_sid) table {seen_table(backend, color)} "
            f"if {{ var(txn.bg_sid) -m found }} {{ srv_name -m str {color} }}\n"
        )
    return text


def seen_table(backend: str, color: str) -> str:
    return f"{backend}_sessions_{color}"


def seen_tables(backend: str, window_seconds: float) -> str:
    """The per-colour tables the count is kept in: backends that hold only a stick-table."""
    expire = max(1, round(window_seconds))
    return "".join(
        f"\nbackend {seen_table(backend, color)}\n"
        f"    # Sessions seen on {color} in the last {expire} s (haproxy/sessions.py).\n"
        f"    stick-table type integer size {TABLE_SIZE} expire {expire}s\n"
        for color in COLORS
    )


def parse_show_table(answer: str, backend: str) -> dict[str, int] | None:
    """`show table` → the sessions each colour's table holds; None when a table is missing."""
    used = dict(_SHOW_TABLE_LINE.findall(answer))
    tables = {color: used.get(seen_table(backend, color)) for color in COLORS}
    if any(count is None for count in tables.values()):
        return None
    return {color: int(count) for color, count in tables.items() if count is not None}


class HaproxySessions:
    """`SessionRouter` for HAProxy, mixed into `HaproxyDriver` (which gives `runtime`)."""

    sessions_cookie: str
    sessions_map: Path
    count_cookie: str  # "" = the application counts ([sessions.source]), or nobody
    count_window: float
    backend: str

    runtime: Callable[[str], str]  # the driver's runtime-API call

    def setup_sessions(self, config: Config) -> None:
        sessions = config.sessions
        self.sessions_cookie = sessions.cookie if sessions.enabled else ""
        self.sessions_map = Path(config.proxy.include_dir).absolute() / SESSIONS_MAP_FILE
        self.count_cookie = sessions.count_cookie if sessions.proxy_counted else ""
        self.count_window = sessions.window_seconds

    def sessions_rules(self) -> str:
        """The backend's session rules. HAProxy refuses to start without a map it loads, so
        the (empty) map is written here when it is missing."""
        if self.sessions_cookie and not self.sessions_map.exists():
            self._persist_sessions(None)
        return session_rules(
            self.sessions_cookie, self.sessions_map, self.count_cookie, self.backend
        )

    def sessions_tables(self) -> str:
        """The sections after the backend: the per-colour tables of the count ("" = none)."""
        if not self.sessions_cookie or not self.count_cookie:
            return ""
        return seen_tables(self.backend, self.count_window)

    def set_sessions(self, kept: KeptSessions | None) -> None:
        path = self.sessions_map
        command = f"clear map {path}"
        if kept is not None:  # `match` last: until it is there the rule matches nobody
            command += (
                f"; add map {path} old {kept.old}; add map {path} new {kept.new}"
                f"; add map {path} match {kept.match}"
            )
        answer = self.runtime(command)
        if answer.strip():
            raise ProxyError(
                f"HAProxy refused the sessions rule ({answer.strip().splitlines()[0]}): add the "
                "backend from `bluegreen proxy snippet` (it loads the sessions map) and restart."
            )
        self._persist_sessions(kept)

    def kept_sessions(self) -> KeptSessions | None:
        try:
            answer = self.runtime(f"show map {self.sessions_map}")
        except ProxyError:
            return None
        return parse_sessions(dict(_SHOW_MAP_LINE.findall(answer)))

    def sessions_seen(self) -> dict[str, int] | None:
        if not self.sessions_cookie or not self.count_cookie:
            return None  # the application counts ([sessions.source])
        counts = parse_show_table(self.runtime("show table"), self.backend)
        if counts is None:
            raise ProxyError(
                f"HAProxy has no table {seen_table(self.backend, 'blue')} to count sessions in: "
                "load the backend from `bluegreen proxy snippet` (it declares them) and restart."
            )
        return counts

    def _persist_sessions(self, kept: KeptSessions | None) -> None:
        try:
            self.sessions_map.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.sessions_map, render_sessions_map(kept), mode=0o644)
        except (OSError, StateDirError) as exc:
            raise ProxyError(
                f"Cannot persist the sessions rule in {self.sessions_map}: {exc}"
            ) from None
