"""The Lua counting each colour's traffic in nginx (live mode), and the admin location reading it.

Counting happens once per request, never in the balancer (it re-runs on every upstream retry):
the request is counted open when the location picks its colour (`set_by_lua`, the rewrite phase,
where the colour is read once for the 503 check and the balancer) and closed in the log phase,
which runs once when the response — or a websocket — ends. There the last entry of the
`$upstream_status` / `$upstream_response_time` lists (one per upstream tried) is what the client
got. A 101 is counted but kept out of latency: its "response time" is the websocket's lifetime.

The counters live in their own `lua_shared_dict`, so they survive reloads and never compete with
the live colour's dict for space. Keys are flat ("blue:req", "green:le100"); console/core/traffic.py
turns them into figures.
"""

from __future__ import annotations

from console.core.traffic import LATENCY_BOUNDS_MS

TRAFFIC_PATH = "/bluegreen/traffic"
TRAFFIC_DICT = "lua_shared_dict bluegreen_traffic 256k;\n"

_BOUNDS = ", ".join(f"{b:g}" for b in LATENCY_BOUNDS_MS)


def pick_and_open(route: str = "") -> str:
    """The location's colour pick; also counts the request open (and, with Upgrade, as a
    websocket). `route` (nginx_routes.route_lua) may change the colour to the one serving this
    request — a preview or canary — so it is counted under the colour that served it."""
    return (
        "# Read the live colour once per request: the 503 check and the balancer agree. The\n"
        "# request is counted open here (once), and closed in the log phase below.\n"
        "set_by_lua_block $bluegreen_live {\n"
        '    local live = ngx.shared.bluegreen:get("live") or ngx.var.bluegreen_rendered\n'
        f"{route}"
        f"{_OPEN}"
    )


_OPEN = (
    '    if live == "blue" or live == "green" then\n'
    "        local t = ngx.shared.bluegreen_traffic\n"
    '        t:incr(live .. ":open", 1, 0)\n'
    "        if ngx.var.http_upgrade then\n"
    '            t:incr(live .. ":ws", 1, 0)\n'
    "        end\n"
    "    end\n"
    "    return live\n"
    "}\n"
)
PICK_AND_OPEN = pick_and_open()

COUNT_ON_LOG = (
    "# Per-colour counters, once per request when it ends (see bluegreen's nginx_traffic.py).\n"
    "log_by_lua_block {\n"
    "    local live = ngx.var.bluegreen_live\n"
    '    if live ~= "blue" and live ~= "green" then\n'
    "        return\n"
    "    end\n"
    "    local t = ngx.shared.bluegreen_traffic\n"
    '    t:incr(live .. ":open", -1, 0)\n'
    "    if ngx.var.http_upgrade then\n"
    '        t:incr(live .. ":ws", -1, 0)\n'
    "    end\n"
    '    t:incr(live .. ":req", 1, 0)\n'
    "    -- The lists hold one entry per upstream tried: the last is what the client got.\n"
    '    local status = tonumber(string.match(ngx.var.upstream_status or "", "(%d+)%D*$"))\n'
    "        or ngx.status\n"
    "    local class = math.floor(status / 100)\n"
    "    if class >= 2 and class <= 5 then\n"
    '        t:incr(live .. ":" .. class .. "xx", 1, 0)\n'
    "    end\n"
    "    if status == 101 then\n"
    "        return\n"
    "    end\n"
    "    local seconds = tonumber(\n"
    '        string.match(ngx.var.upstream_response_time or "", "([%d.]+)[^%d.]*$"))\n'
    "    if not seconds then\n"
    "        return\n"
    "    end\n"
    '    t:incr(live .. ":rt_us", math.floor(seconds * 1000000 + 0.5), 0)\n'
    '    t:incr(live .. ":timed", 1, 0)\n'
    "    local ms = seconds * 1000\n"
    f"    for _, bound in ipairs({{ {_BOUNDS} }}) do\n"
    "        if ms <= bound then\n"
    '            t:incr(live .. ":le" .. bound, 1, 0)\n'
    "            return\n"
    "        end\n"
    "    end\n"
    '    t:incr(live .. ":le_inf", 1, 0)\n'
    "}\n"
)


def traffic_location(token_check: str) -> str:
    """The admin server's GET /bluegreen/traffic: every counter as one JSON object."""
    return (
        f"    location = {TRAFFIC_PATH} {{\n"
        "        default_type application/json;\n"
        "        content_by_lua_block {\n"
        f"{token_check}"
        "            local t = ngx.shared.bluegreen_traffic\n"
        "            local parts = {}\n"
        "            for _, key in ipairs(t:get_keys(0)) do\n"
        "                local value = t:get(key)\n"
        '                if type(value) == "number" then\n'
        "                    parts[#parts + 1] = string.format('\"%s\":%d', key, value)\n"
        "                end\n"
        "            end\n"
        "            ngx.update_time()\n"
        '            ngx.say(\'{"at":\', string.format("%.3f", ngx.now()), \',"counters":{\',\n'
        "                table.concat(parts, \",\"), '}}')\n"
        "        }\n"
        "    }\n"
    )
