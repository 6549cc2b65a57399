"""Sessions kept on their colour in HAProxy ([sessions], issue 26.1): a map and two backend rules.

The rule lives in a map file bluegreen owns (`old`, `match`, `new`), loaded at start and changed
at runtime (`clear map` / `add map`, no reload), rewritten atomically so a restart keeps it. The
backend's rules, before the preview and canary ones (haproxy/routes.py), put `old` in
`txn.bg_pick` when the request's session cookie equals `match` — so `use-server` sends it to the
old colour, whose server is in `drain` (weight 0, still up) after the switch — and a preview
header still wins. While the old colour is live the rule names the live colour: it changes
nothing, which is why the core sets it before the switch.
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


def session_rules(cookie: str, map_path: Path) -> str:
    """The backend's lines keeping a matching session on its colour ("" = no [sessions])."""
    if not cookie:
        return ""
    return (
        "    # Sessions kept on the colour they started on (bluegreen's haproxy/sessions.py).\n"
        f"    http-request set-var(txn.bg_keep) str(match),map({map_path})\n"
        f"    http-request set-var(txn.bg_pick) str(old),map({map_path}) "
        f"if {{ var(txn.bg_keep) -m found }} {{ req.cook({cookie}),strcmp(txn.bg_keep) eq 0 }}\n"
    )


class HaproxySessions:
    """`SessionRouter` for HAProxy, mixed into `HaproxyDriver` (which gives `runtime`)."""

    sessions_cookie: str
    sessions_map: Path

    runtime: Callable[[str], str]  # the driver's runtime-API call

    def setup_sessions(self, config: Config) -> None:
        sessions = config.sessions
        self.sessions_cookie = sessions.cookie if sessions.enabled else ""
        self.sessions_map = Path(config.proxy.include_dir).absolute() / SESSIONS_MAP_FILE

    def sessions_rules(self) -> str:
        """The backend's session rules. HAProxy refuses to start without a map it loads, so
        the (empty) map is written here when it is missing."""
        if self.sessions_cookie and not self.sessions_map.exists():
            self._persist_sessions(None)
        return session_rules(self.sessions_cookie, self.sessions_map)

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
        return None  # HAProxy keeps no per-cookie table here: counts come from [sessions.source]

    def _persist_sessions(self, kept: KeptSessions | None) -> None:
        try:
            self.sessions_map.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.sessions_map, render_sessions_map(kept), mode=0o644)
        except (OSError, StateDirError) as exc:
            raise ProxyError(
                f"Cannot persist the sessions rule in {self.sessions_map}: {exc}"
            ) from None
