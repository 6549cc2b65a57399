"""Sessions kept on their colour in nginx reload mode ([sessions], issue 26.1): maps and a reload.

Reload mode has no Lua in the request path (and may have no Lua module at all), so the rule is
rendered: while the rule's NEW colour is the rendered live colour, a `map $cookie_<cookie>` sends
a session cookie equal to MATCH to OLD and everyone else on to the colour picked so far, over the
per-colour upstreams the preview and canary routes use (nginx/routes.reload_routes). It sits
after the canary and before the preview, as the live mode's Lua does, so a preview header still
wins and a kept session is never drawn into a canary.

The rule itself (`OLD|MATCH|NEW`, or no file) is kept in `bluegreen-sessions.rule` beside the
includes, written atomically: every later render (a switch, a canary, maintenance, `proxy
install`) reads it, so it survives reloads and restarts until the migration ends. Tied to NEW, an
inert rule (OLD live, as the core sets it before the switch, or after a rollback) renders
nothing, so setting or clearing it then changes no file and needs no reload: a session-kept
switch is one reload, and so is a rollback.

What the running nginx applies is read through the proxy, like the canary: a request carrying
the probe header gets the rule its configuration routes by in `X-Bluegreen-Sessions` ("none"
when it keeps nobody); an inert rule is read from its file. Counting sessions needs the Lua
module (the log phase notes each `count_cookie` value under its colour, as in live mode, served
by reload mode's counters server). Without it there is no count: an access log of session
cookies would put every client's session credential on disk in clear, and nginx without Lua
cannot hash it first — so `sessions_seen` says to configure `[sessions.source]`, and `proxy
check` says so too.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from console.core.config.proxy import NginxProxyConfig
from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions
from console.core.fsutil import StateDirError, atomic_write
from console.core.model import Canary, Color
from console.core.timeouts import PROXY_READ_BACK_SECONDS
from console.drivers.proxy.nginx.routes import PROBE_HEADER, nginx_header_variable
from console.drivers.proxy.nginx.sessions import (
    NO_SESSIONS,
    KeptSessionRoutes,
    parse_sessions_value,
    sessions_value,
)
from console.drivers.proxy.probe import RELOAD_CONFIRMATIONS, probe_client

if TYPE_CHECKING:
    from console.drivers.proxy.nginx.sessions import SessionRendering

RULE_FILE = "bluegreen-sessions.rule"
SESSIONS_HEADER = "X-Bluegreen-Sessions"
SESSION_PICK = "$bluegreen_session_pick"
# A cookie value the map can match exactly without quoting trouble (versions, colours, ids).
_MATCHABLE = re.compile(r"^[A-Za-z0-9._~+-]{1,128}$")
NO_LUA_COUNT = (
    "nginx in reload mode counts sessions only with the Lua module, which this nginx lacks: "
    "configure [sessions.source] (the application's count), or load libnginx-mod-http-lua."
)


def active(kept: KeptSessions | None, live: Color | str | None) -> KeptSessions | None:
    """The rule as it routes while `live` is rendered: only while its NEW colour is live."""
    return kept if kept is not None and kept.new == live else None


def session_pick_map(cookie: str, kept: KeptSessions, base: str) -> tuple[str, str]:
    """`$bluegreen_session_pick`: OLD for a matching session cookie, else `base` (the colour
    the canary, or the live colour, picked); the map and that variable. A regex, because map's
    plain strings ignore case."""
    pattern = re.escape(kept.match)
    text = (
        "# Sessions kept on the colour they started on (bluegreen's nginx/sessions_reload.py).\n"
        f"map $cookie_{cookie} {SESSION_PICK} {{\n"
        f"    default {base};\n"
        f'    "~^{pattern}$" {kept.old};\n'
        "}\n\n"
    )
    return text, SESSION_PICK


def sessions_seen_map(kept: KeptSessions | None) -> str:
    """The rule this configuration applies, answered to a request carrying the probe header."""
    return (
        f"# The sessions rule this configuration routes by, for a request with {PROBE_HEADER}.\n"
        f"map ${nginx_header_variable(PROBE_HEADER)} $bluegreen_sessions_seen {{\n"
        '    default "";\n'
        f'    "~." "{sessions_value(kept)}";\n'
        "}\n\n"
    )


SESSIONS_SEEN_HEADER = f"add_header {SESSIONS_HEADER} $bluegreen_sessions_seen always;\n"


def read_rule(include_dir: Path) -> KeptSessions | None:
    try:
        return parse_sessions_value((include_dir / RULE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def write_rule(include_dir: Path, kept: KeptSessions | None) -> None:
    path = include_dir / RULE_FILE
    try:
        if kept is None:
            path.unlink(missing_ok=True)
        else:
            include_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
            atomic_write(path, sessions_value(kept) + "\n", mode=0o644)
    except (OSError, StateDirError) as exc:
        raise ProxyError(f"Cannot keep the sessions rule in {path}: {exc}") from None


class ReloadSessionRoutes(KeptSessionRoutes):
    """`SessionRouter` for nginx reload mode, mixed into `NginxReloadDriver` (which gives the
    files, the reload and the read-back through the proxy)."""

    include_dir: Path
    probe_url: str
    proxy: NginxProxyConfig
    sessions: SessionRendering | None

    if TYPE_CHECKING:  # given by NginxDriver / NginxReloadDriver

        def files_now(self) -> dict[Path, bytes | None]: ...
        def restore(self, previous: dict[Path, bytes | None]) -> None: ...
        def reload(self, why: str) -> None: ...
        def counting(self) -> bool: ...
        def persisted(self) -> Color | None: ...
        def persisted_canary(self) -> Canary | None: ...
        def write_files(
            self, live: Color | None, canary: Canary | None = None
        ) -> tuple[str, ...]: ...

    def set_sessions(self, kept: KeptSessions | None) -> None:
        if self.sessions is None:
            raise ProxyError("nginx keeps no sessions without a [sessions] table: nothing changed.")
        if kept is not None and not _MATCHABLE.match(kept.match):
            raise ProxyError(
                f"nginx in reload mode cannot match the session cookie value {kept.match!r} "
                "(letters, digits and . _ ~ + - only): switch without --keep-sessions."
            )
        before_rule, before_files = read_rule(self.include_dir), self.files_now()
        # The files name what nginx routes now; the rule only renders while its NEW is live.
        live, canary = self.persisted(), self.persisted_canary()
        write_rule(self.include_dir, kept)
        try:
            self.write_files(live, canary)  # validated; put back by itself if nginx -t refuses
            wanted = active(kept, live)
            if self._routing_rule() != wanted:
                self.reload("apply")
                self._wait_for_rule(wanted)
        except ProxyError as exc:
            write_rule(self.include_dir, before_rule)
            self.restore(before_files)
            raise ProxyError(f"{exc} The previous sessions rule is back in place.") from None

    def kept_sessions(self) -> KeptSessions | None:
        """The rule the running nginx routes by (its answer to a probe); while it routes by none,
        an inert rule the files keep (OLD live: it routes nobody yet), as live mode's dict holds
        one — so the agent clears a rule a failed switch left behind before a later plain switch
        to NEW could make it route."""
        routing = self._routing_rule()
        if routing is not None:
            return routing
        kept = read_rule(self.include_dir)
        return kept if kept is not None and active(kept, self.persisted()) is None else None

    def _routing_rule(self) -> KeptSessions | None:
        """The rule the running nginx's configuration routes by, from its answer to a probe."""
        try:
            with probe_client(timeout=PROXY_READ_BACK_SECONDS) as client:
                response = client.get(self.probe_url, headers={PROBE_HEADER: "sessions"})
        except httpx.HTTPError:
            return None
        return parse_sessions_value(response.headers.get(SESSIONS_HEADER, NO_SESSIONS))

    def sessions_seen(self) -> dict[str, int] | None:
        if self.sessions is None or not self.sessions.count_cookie:
            return None
        if not self.counting():
            raise ProxyError(NO_LUA_COUNT)
        return super().sessions_seen()

    def _wait_for_rule(self, wanted: KeptSessions | None) -> None:
        # The reload returns before the new workers take requests: applied once several
        # read-backs in a row (each on a new connection) answer it.
        deadline = time.monotonic() + self.proxy.verify_timeout_seconds
        in_a_row = 0
        while in_a_row < RELOAD_CONFIRMATIONS:
            seen = self._routing_rule()
            in_a_row = in_a_row + 1 if seen == wanted else 0
            if time.monotonic() >= deadline and in_a_row < RELOAD_CONFIRMATIONS:
                raise ProxyError(
                    f"nginx was reloaded but still routes sessions by "
                    f"{seen.describe() if seen else 'no rule'}: check its error log."
                )
            if not in_a_row:
                time.sleep(0.05)
