"""Preview and canary routes in nginx: which colour serves a request when it is not the live one.

- **Preview** (`[proxy] preview`, off by default): a request whose `preview_header` or
  `preview_cookie` names a colour goes to that colour, whatever is live (while something is).
- **Canary**: a sticky share of clients goes to the idle colour. The client's key is the
  `canary_cookie` if it sends one, else its address; `crc32(key) % 100 < percent` decides, so a
  client always lands on the same colour, and raising the percentage only adds clients.

Live mode decides in the location's `set_by_lua_block` (the same place the live colour is read
once per request), so the counters and the balancer see the colour that really serves it. The
canary is `"<colour>:<percent>"` (or `"none"`) in the shared dict, set through the admin socket
without a reload; the file also renders it as the fallback a restart applies. Reload mode renders
the same choice as `map`s and a `split_clients` over per-colour upstreams, applied by a reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from console.core.model import COLORS, Canary
from console.drivers.proxy.routes import Routes

CANARY_PATH = "/bluegreen/canary"
# GET answers the live colour and the canary, a line each: what the agent reads every second, in
# one request instead of one for each (an include from before it answers 404: both are asked).
ROUTING_PATH = "/bluegreen/routing"
NO_CANARY = "none"
# Reload mode has no admin endpoint: a request carrying PROBE_HEADER: canary gets the canary the
# running configuration applies in CANARY_HEADER, so a read-back (and the wait after a reload)
# sees what nginx does, not what the file says. Other requests get no such header.
PROBE_HEADER = "X-Bluegreen-Probe"
CANARY_HEADER = "X-Bluegreen-Canary"
RELOAD_CANARY_HEADER = f"add_header {CANARY_HEADER} $bluegreen_canary_seen always;\n"
_MARKER = re.compile(r"^# bluegreen live=\S+ mode=\S+ canary=(blue|green):(\d{1,2})\b", re.M)


def nginx_header_variable(header: str) -> str:
    """`X-Bluegreen-Preview` → `http_x_bluegreen_preview` (nginx's name for a request header)."""
    return "http_" + header.lower().replace("-", "_")


def canary_value(canary: Canary | None) -> str:
    """The dict's and the file's form of a canary."""
    return f"{canary.color}:{canary.percent}" if canary else NO_CANARY


def parse_canary_value(text: str) -> Canary | None:
    color, _, percent = text.strip().partition(":")
    if color not in COLORS or not percent.isdigit() or not 0 < int(percent) < 100:
        return None
    return Canary("blue" if color == "blue" else "green", int(percent))


def marker_suffix(canary: Canary | None) -> str:
    """Appended to the file's first line, so `parse_persisted_canary` finds it."""
    return f" canary={canary_value(canary)}" if canary else ""


def parse_persisted_canary(text: str) -> Canary | None:
    match = _MARKER.search(text)
    return parse_canary_value(f"{match.group(1)}:{match.group(2)}") if match else None


# ── live mode (Lua) ──────────────────────────────────────────────────────────────────────────────


def rendered_canary_map(canary: Canary | None) -> str:
    return (
        "# The canary this file records: what applies after a restart empties the dict.\n"
        "map $host $bluegreen_rendered_canary {\n"
        f'    default "{canary_value(canary)}";\n'
        "}\n\n"
    )


def route_lua(routes: Routes) -> str:
    """Lua for the location's colour pick: may change `live` to the colour serving this request.
    Inserted right after `live` is read, before the request is counted."""
    canary = (
        '            local canary = ngx.shared.bluegreen:get("canary")\n'
        "                or ngx.var.bluegreen_rendered_canary\n"
        '            local color, percent = string.match(canary or "", "^(%l+):(%d+)$")\n'
        '            if (color == "blue" or color == "green") and color ~= live\n'
        f"                and not ngx.var.{nginx_header_variable(PROBE_HEADER)} then\n"
        f"                local key = ngx.var.cookie_{routes.canary_cookie}\n"
        '                if not key or key == "" then\n'
        "                    key = ngx.var.remote_addr\n"
        "                end\n"
        "                if ngx.crc32_long(key) % 100 < tonumber(percent) then\n"
        "                    live = color\n"
        "                end\n"
        "            end\n"
    )
    if routes.preview:
        header = nginx_header_variable(routes.preview_header)
        choose = (
            f"        local want = ngx.var.{header} or ngx.var.cookie_{routes.preview_cookie}\n"
            '        if want == "blue" or want == "green" then\n'
            "            live = want\n"
            "        else\n"
            f"{canary}"
            "        end\n"
        )
    else:
        choose = "        do\n" + canary + "        end\n"
    return (
        "    -- Preview and canary (bluegreen's nginx_routes.py): who serves this request.\n"
        '    if live == "blue" or live == "green" then\n'
        f"{choose}"
        "    end\n"
    )


def get_or_post(read: str) -> str:
    """An admin handler's start: GET answers `read` (a Lua expression), anything but POST is
    refused."""
    return (
        "            local dict = ngx.shared.bluegreen\n"
        "            local method = ngx.req.get_method()\n"
        '            if method == "GET" then\n'
        f"                ngx.say({read})\n"
        "                return\n"
        '            elseif method ~= "POST" then\n'
        "                ngx.status = 405\n"
        '                ngx.say("use GET or POST")\n'
        "                return\n"
        "            end\n"
    )


# A POST that arrives past its `expires` is refused, so once that time has passed a read-back
# is the final truth.
REFUSE_EXPIRED = (
    "            local expires = tonumber(ngx.var.arg_expires)\n"
    "            ngx.update_time()\n"
    "            if expires and ngx.now() > expires then\n"
    "                ngx.status = 409\n"
    '                ngx.say("expired: not applied")\n'
    "                return\n"
    "            end\n"
)
_READ_CANARY = 'dict:get("canary") or ngx.var.bluegreen_rendered_canary'


def routing_location(token_check: str) -> str:
    """The admin server's read of both: the live colour, then the canary, a line each."""
    return (
        f"    location = {ROUTING_PATH} {{\n"
        "        default_type text/plain;\n"
        "        content_by_lua_block {\n"
        f"{token_check}"
        "            local dict = ngx.shared.bluegreen\n"
        '            ngx.say(dict:get("live") or ngx.var.bluegreen_rendered)\n'
        f"            ngx.say({_READ_CANARY})\n"
        "        }\n"
        "    }\n"
    )


def canary_location(token_check: str) -> str:
    """The admin server's canary endpoint: GET reads it, POST sets it (never the live colour).

    A canary for the live colour, or with nothing live, is refused (409): after a switch the
    colour that was idle may be live already. Like a switch, a POST past its `expires` is refused.
    """
    return (
        f"    location = {CANARY_PATH} {{\n"
        "        default_type text/plain;\n"
        "        content_by_lua_block {\n"
        f"{token_check}"
        f"{get_or_post(_READ_CANARY)}"
        "            local color = ngx.var.arg_color\n"
        "            local percent = tonumber(ngx.var.arg_percent)\n"
        '            if (color ~= "blue" and color ~= "green") or not percent\n'
        "                or percent < 0 or percent > 99 or percent % 1 ~= 0 then\n"
        "                ngx.status = 400\n"
        '                ngx.say("color must be blue or green, percent a whole number 0-99")\n'
        "                return\n"
        "            end\n"
        f"{REFUSE_EXPIRED}"
        '            local live = dict:get("live") or ngx.var.bluegreen_rendered\n'
        '            local value = "none"\n'
        "            if percent > 0 then\n"
        '                if live ~= "blue" and live ~= "green" or live == color then\n'
        "                    ngx.status = 409\n"
        '                    ngx.say("a canary goes to the idle colour; live is ", live)\n'
        "                    return\n"
        "                end\n"
        '                value = color .. ":" .. percent\n'
        "            end\n"
        '            local ok, err = dict:set("canary", value)\n'
        "            if not ok then\n"
        "                ngx.status = 500\n"
        '                ngx.say("cannot store the canary: ", err)\n'
        "                return\n"
        "            end\n"
        "            ngx.say(value)\n"
        "        }\n"
        "    }\n"
    )


# ── reload mode (maps, split_clients) ────────────────────────────────────────────────────────────


def picks_per_request(routes: Routes, live: object, canary: Canary | None) -> bool:
    """Reload mode renders the per-request choice only when something can differ from live."""
    return live is not None and (routes.preview or canary is not None)


def reload_routes(
    routes: Routes,
    live: str,
    canary: Canary | None,
    ports: dict[str, int],
    kept_pick: Callable[[str], tuple[str, str]] | None = None,
) -> str:
    """Reload mode: `$bluegreen_live` becomes the colour serving the request, and each colour
    has its own upstream (`proxy_pass http://bluegreen_$bluegreen_live`). `kept_pick`: the
    sessions kept on the old colour (nginx/sessions_reload), given the pick so far; it returns
    its map and the variable that replaces it, and goes after the canary, before the preview."""
    text = (
        "# The live colour this file records; preview and canary may pick the other one.\n"
        "map $host $bluegreen_rendered {\n"
        f'    default "{live}";\n'
        "}\n\n"
    )
    base = "$bluegreen_rendered"
    if canary is not None and canary.color != live:
        cookie = f"$cookie_{routes.canary_cookie}"
        text += (
            "# Canary: a sticky share of clients (by cookie, else address) to the idle colour.\n"
            f"map {cookie} $bluegreen_canary_key {{\n"
            f'    "" $remote_addr;\n'
            f"    default {cookie};\n"
            "}\n"
            'split_clients "${bluegreen_canary_key}" $bluegreen_canary_pick {\n'
            f"    {canary.percent}% {canary.color};\n"
            f"    * {live};\n"
            "}\n\n"
        )
        # bluegreen's own probe (a read-back, a switch's check) sees the live colour.
        text += (
            f"map ${nginx_header_variable(PROBE_HEADER)} $bluegreen_canary_or_live {{\n"
            "    default $bluegreen_canary_pick;\n"
            '    "~." $bluegreen_rendered;\n'
            "}\n\n"
        )
        base = "$bluegreen_canary_or_live"
    if kept_pick is not None:
        kept_map, base = kept_pick(base)
        text += kept_map
    if routes.preview:
        header = "$" + nginx_header_variable(routes.preview_header)
        cookie = f"$cookie_{routes.preview_cookie}"
        text += (
            "# Preview: the header (else the cookie) naming a colour sends the request there\n"
            "# (regexes: map's plain strings ignore case, Lua and HAProxy do not).\n"
            f"map {cookie} $bluegreen_preview_cookie {{\n"
            f"    default {base};\n"
            '    "~^blue$" blue;\n'
            '    "~^green$" green;\n'
            "}\n"
            f"map {header} $bluegreen_live {{\n"
            "    default $bluegreen_preview_cookie;\n"
            '    "~^blue$" blue;\n'
            '    "~^green$" green;\n'
            "}\n\n"
        )
    else:
        text += f"map $host $bluegreen_live {{\n    default {base};\n}}\n\n"
    text += (
        f"# The canary this configuration applies, for a request asking with {PROBE_HEADER}.\n"
        f"map ${nginx_header_variable(PROBE_HEADER)} $bluegreen_canary_seen {{\n"
        '    default "";\n'
        f'    canary "{canary_value(canary if canary and canary.color != live else None)}";\n'
        "}\n\n"
    )
    for color in COLORS:
        text += (
            f"upstream bluegreen_{color} {{\n"
            f"    server 127.0.0.1:{ports[color]};\n"
            "    keepalive 32;\n"
            "}\n"
        )
    return text


def preview_snippet(routes: Routes) -> str:
    """`proxy snippet`: what preview does, and the recipe that keeps it to trusted addresses."""
    if not routes.preview:
        return (
            "\n# Preview routes are off ([proxy] preview = false): a header or cookie naming a\n"
            "# colour changes nothing.\n"
        )
    header = nginx_header_variable(routes.preview_header)
    return (
        f"\n# Preview is on: `{routes.preview_header}: green` (or the cookie "
        f"{routes.preview_cookie}=green)\n"
        "# sends a request to that colour, whatever is live. Allow it only from trusted\n"
        "# addresses — in http { }, after bluegreen's include:\n"
        "geo $bluegreen_untrusted {\n"
        "    default 1;\n"
        "    127.0.0.1 0;\n"
        "    10.0.0.0/8 0;  # your office, VPN, CI runners\n"
        "}\n"
        f'map "$bluegreen_untrusted:${header}$cookie_{routes.preview_cookie}" '
        "$bluegreen_preview_refused {\n"
        "    default 0;\n"
        '    "~^1:." 1;\n'
        "}\n"
        "# and in the location, above bluegreen's include line:\n"
        "    if ($bluegreen_preview_refused) {\n"
        '        return 403 "preview is for trusted addresses only\\n";\n'
        "    }\n"
    )
