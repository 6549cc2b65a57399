"""Sessions kept on their colour in nginx live mode ([sessions], issue 26.1).

A session-kept switch leaves a client whose session cookie names the old colour (or its version)
on the old colour while every other client goes to the new one. The choice sits in the location's
`set_by_lua` right after the live colour is read (before preview and canary, so a preview header
still wins), so the 503 check, the balancer and the traffic counters all see the colour that
serves the request, exactly as for a canary (nginx/routes.py).

The rule is one value in the service's shared dict, key `sessions`: `"OLD|MATCH|NEW"` — keep
cookies equal to MATCH on OLD while NEW is live — or absent. Tying it to NEW means a rule left
behind can never hold clients back after a later switch elsewhere. The core sets it before the
switch (harmless while OLD is still live: those clients are on OLD anyway), so no request falls
between the two; a rollback moves everyone to OLD at once and then clears it. The dict survives
reloads; after an nginx restart the agent re-applies the store's rule on its next tick.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from console.core.config.sessions import SessionsConfig
from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions
from console.core.model import COLORS
from console.core.timeouts import PROXY_ADMIN_SECONDS, PROXY_READ_BACK_SECONDS
from console.drivers.proxy.nginx.routes import REFUSE_EXPIRED, get_or_post

if TYPE_CHECKING:  # admin.py imports render.py, which imports this module
    from console.drivers.proxy.nginx.admin import NginxAdmin

SESSIONS_PATH = "/bluegreen/sessions"
SEEN_PATH = "/bluegreen/sessions/seen"
NO_SESSIONS = "none"
_READ_RULE = f'dict:get("sessions") or "{NO_SESSIONS}"'
_COUNTED_LINE = '    t:incr(live .. ":req", 1, 0)\n'  # in traffic.COUNT_ON_LOG, once per request


@dataclass(frozen=True, slots=True)
class SessionRendering:
    """What the files need of [sessions]: the kept cookie, and the proxy's own count of sessions
    (distinct `count_cookie` values per colour in the last `window_seconds`; "" = not counted)."""

    cookie: str
    count_cookie: str = ""
    window_seconds: float = 300.0

    @classmethod
    def of(cls, sessions: SessionsConfig) -> SessionRendering | None:
        if not sessions.enabled:
            return None
        count = sessions.count_cookie if sessions.proxy_counted else ""
        return cls(sessions.cookie, count, sessions.window_seconds)


def sessions_value(kept: KeptSessions | None) -> str:
    return f"{kept.old}|{kept.match}|{kept.new}" if kept else NO_SESSIONS


def parse_sessions_value(text: str) -> KeptSessions | None:
    old, _, rest = text.strip().partition("|")
    match, _, new = rest.rpartition("|")
    if old not in COLORS or new not in COLORS or old == new or not match:
        return None
    return KeptSessions(old, match, new)


def session_lua(sessions: SessionRendering | None) -> str:
    """The location pick's lines keeping a matching session on its colour ("" = no [sessions])."""
    if sessions is None:
        return ""
    cookie = sessions.cookie
    return (
        "    -- Sessions kept on the colour they started on (bluegreen's nginx/sessions.py).\n"
        '    local kept = ngx.shared.bluegreen:get("sessions")\n'
        '    if kept and live == string.match(kept, "|(%l+)$") then\n'
        '        local old, match = string.match(kept, "^(%l+)|(.+)|%l+$")\n'
        f"        if old and ngx.var.cookie_{cookie} == match then\n"
        "            live = old\n"
        "        end\n"
        "    end\n"
    )


def sessions_http(sessions: SessionRendering | None) -> str:
    """The http-context dict of the proxy's own count ("" = not counted by the proxy)."""
    if sessions is None or not sessions.count_cookie:
        return ""
    return "lua_shared_dict bluegreen_sessions 1m;  # sessions seen per colour (nginx/sessions)\n"


def count_seen(count_on_log: str, sessions: SessionRendering | None) -> str:
    """The log phase (traffic.COUNT_ON_LOG) with the session's cookie noted under the colour that
    served it for `window_seconds`: the dict's live keys are the sessions seen in the window."""
    if sessions is None or not sessions.count_cookie:
        return count_on_log
    seen = (
        f"    local session = ngx.var.cookie_{sessions.count_cookie}\n"
        '    if session and session ~= "" then\n'
        '        ngx.shared.bluegreen_sessions:set(live .. ":" .. ngx.crc32_long(session), true,\n'
        f"            {sessions.window_seconds:g})\n"
        "    end\n"
    )
    return count_on_log.replace(_COUNTED_LINE, _COUNTED_LINE + seen, 1)


def sessions_location(sessions: SessionRendering | None, token_check: str) -> str:
    """The admin server's sessions endpoint: GET reads the rule, POST sets it (?old=&match=&new=,
    or old=none to clear); with the proxy's count, GET SEEN_PATH answers {"blue": N, "green": M}.
    "" when [sessions] is off, so those files stay as they were."""
    if sessions is None:
        return ""
    return seen_location(sessions, token_check) + (
        f"    location = {SESSIONS_PATH} {{\n"
        "        default_type text/plain;\n"
        "        content_by_lua_block {\n"
        f"{token_check}"
        f"{get_or_post(_READ_RULE)}{REFUSE_EXPIRED}"
        "            local old = ngx.var.arg_old\n"
        f'            if old == "{NO_SESSIONS}" then\n'
        '                dict:delete("sessions")\n'
        f'                ngx.say("{NO_SESSIONS}")\n'
        "                return\n"
        "            end\n"
        "            local new = ngx.var.arg_new\n"
        '            local match = ngx.unescape_uri(ngx.var.arg_match or "")\n'
        '            if (old ~= "blue" and old ~= "green") or (new ~= "blue" and new ~= "green")\n'
        '                or old == new or match == "" or string.find(match, "|", 1, true) then\n'
        "                ngx.status = 400\n"
        '                ngx.say("old and new must be blue and green, match a cookie value")\n'
        "                return\n"
        "            end\n"
        '            local value = old .. "|" .. match .. "|" .. new\n'
        '            local ok, err = dict:set("sessions", value)\n'
        "            if not ok then\n"
        "                ngx.status = 500\n"
        '                ngx.say("cannot store the sessions rule: ", err)\n'
        "                return\n"
        "            end\n"
        "            ngx.say(value)\n"
        "        }\n"
        "    }\n"
    )


class KeptSessionRoutes:
    """`SessionRouter` for nginx live mode, mixed into `NginxLiveDriver`."""

    admin: NginxAdmin

    def set_sessions(self, kept: KeptSessions | None) -> None:
        params = {"expires": f"{time.time() + PROXY_ADMIN_SECONDS:.3f}", "old": NO_SESSIONS}
        if kept is not None:
            params.update(old=kept.old, match=kept.match, new=kept.new)
        what = kept.describe() if kept else "the end of the kept sessions"
        try:
            with self.admin.client(PROXY_ADMIN_SECONDS) as client:
                response = client.post(SESSIONS_PATH, params=params)
        except httpx.HTTPError as exc:
            raise ProxyError(
                f"The nginx admin endpoint {self.admin.where} did not answer {what} "
                f"({type(exc).__name__}): nothing is known to have changed; retry."
            ) from None
        if response.status_code != 200 or response.text.strip() != sessions_value(kept):
            hint = (
                " Run `bluegreen proxy install --reload` so nginx has the sessions endpoint."
                if response.status_code == 404
                else ""
            )
            raise ProxyError(
                f"The nginx admin endpoint refused {what} (HTTP {response.status_code}: "
                f"{response.text.strip()[:80]}).{hint}"
            )

    def sessions_seen(self) -> dict[str, int] | None:
        """The proxy's own count per colour; None when it does not count (or did not answer)."""
        try:
            with self.admin.client(PROXY_READ_BACK_SECONDS) as client:
                response = client.get(SEEN_PATH)
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ProxyError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        return {c: int(data[c]) for c in COLORS if isinstance(data.get(c), int)}

    def kept_sessions(self) -> KeptSessions | None:
        try:
            with self.admin.client(PROXY_READ_BACK_SECONDS) as client:
                response = client.get(SESSIONS_PATH)
        except (httpx.HTTPError, ProxyError):
            return None
        if response.status_code != 200:
            return None
        return parse_sessions_value(urllib.parse.unquote(response.text))


def seen_location(sessions: SessionRendering | None, token_check: str) -> str:
    """GET SEEN_PATH: the proxy's count of sessions per colour ("" when it does not count)."""
    if sessions is None or not sessions.count_cookie:
        return ""
    return (
        f"    location = {SEEN_PATH} {{\n"
        "        default_type application/json;\n"
        "        content_by_lua_block {\n"
        f"{token_check}"
        "            local seen = { blue = 0, green = 0 }\n"
        "            for _, key in ipairs(ngx.shared.bluegreen_sessions:get_keys(0)) do\n"
        '                local color = string.match(key, "^(%l+):")\n'
        "                if seen[color] then\n"
        "                    seen[color] = seen[color] + 1\n"
        "                end\n"
        "            end\n"
        '            ngx.say(\'{"blue": \', seen.blue, \', "green": \', seen.green, "}")\n'
        "        }\n"
        "    }\n"
    )
