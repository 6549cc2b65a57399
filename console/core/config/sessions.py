"""`[sessions]`: a switch that keeps clients in a session on the colour they started on.

With a session-kept switch (every switch when `keep = true`, else `switch --keep-sessions`), a
client whose session `cookie` maps to the colour that was live stays there, and every other
client goes to the new colour. The cookie is the application's own: its value names the colour
(`value = "color"`) or the version the session started on (`value = "version"`: the seed's
`deployment=v1.4.0` cookie, matched against the old colour's deployment version).

The old colour's remaining sessions come from `[sessions.source]`, any progress-source kind read
per colour (an HTTP JSON field such as `GET /api/deployment/active-sessions`, a Prometheus gauge,
an SQL count): its "height" is the number of sessions. The old colour is then retired when its
sessions reach zero (`retire = "auto"`), when an operator confirms naming the count (`"confirm"`:
`bluegreen sessions retire`), or at `timeout_seconds` after the switch (every mode; `"timeout"`
waits for it alone). Rollback stays instant throughout: it sends everyone back to the old colour.

No `[sessions]` table: switches move everyone at once, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from console.core.config.sources import NoSource, SourceSpec

RetireMode = Literal["auto", "confirm", "timeout"]
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")  # nginx's $cookie_NAME: no dashes


@dataclass(frozen=True)
class SessionsConfig:
    enabled: bool = True  # writing the [sessions] table turns the mode on
    keep: bool = False  # every switch keeps sessions; false = only `switch --keep-sessions`
    cookie: str = "deployment"  # the application's session cookie
    value: Literal["color", "version"] = "version"  # what the cookie's value names
    retire: RetireMode = "confirm"
    timeout_seconds: float = 7200.0  # the old colour is retired this long after the switch
    # Without [sessions.source]: the proxy counts the distinct values of this cookie (one per
    # session, e.g. "sid") seen on each colour in the last `window_seconds`. "" = not counted.
    count_cookie: str = ""
    window_seconds: float = 300.0
    # Each colour's count of sessions ({host_port}, {color}, {container} filled in per colour).
    source: SourceSpec = field(default_factory=NoSource)

    @property
    def counted(self) -> bool:
        """Counted by the application ([sessions.source])."""
        return not isinstance(self.source, NoSource)

    @property
    def proxy_counted(self) -> bool:
        """Counted by the proxy instead: distinct `count_cookie` values in the window."""
        return self.enabled and not self.counted and bool(self.count_cookie)


NO_SESSIONS = SessionsConfig(enabled=False)


def sessions_problems(
    sessions: SessionsConfig, proxy_keeps_sessions: bool, title: str
) -> list[str]:
    """What is wrong with `[sessions]`, one phrase per key; `proxy_keeps_sessions`: whether the
    configured proxy can route by the session cookie (`title` names it)."""
    if not sessions.enabled:
        return []
    problems: list[str] = []
    for key, value in (("cookie", sessions.cookie), ("count_cookie", sessions.count_cookie)):
        if (value and not _COOKIE_NAME.match(value)) or (key == "cookie" and not value):
            problems.append(
                f"sessions.{key} {value!r} is not a cookie name the proxy can read: use "
                "letters, digits and underscores, e.g. deployment or sid"
            )
    if sessions.window_seconds <= 0:
        problems.append("sessions.window_seconds must be above 0 (300 is five minutes)")
    if sessions.timeout_seconds <= 0:
        problems.append(
            "sessions.timeout_seconds must be above 0 (the old colour is retired that long after "
            "the switch at the latest; 7200 is two hours)"
        )
    if not sessions.counted and not sessions.count_cookie and sessions.retire == "auto":
        problems.append(
            'sessions.retire = "auto" needs a count of sessions: add [sessions.source] (e.g. '
            'kind = "http", url = "http://127.0.0.1:{host_port}/api/deployment/active-sessions", '
            'field = "active"), or let the proxy count distinct sessions.count_cookie values '
            '(e.g. "sid"), or use retire = "confirm" or "timeout"'
        )
    problems += sessions.source.problems("sessions.source", per_colour=True)
    if not proxy_keeps_sessions:
        problems.append(
            f"[sessions] needs a proxy that routes by cookie, and {title} does not: use nginx "
            "(live or reload mode) or HAProxy, or remove [sessions]"
        )
    return problems
