"""The Lua counting each colour's traffic in nginx (live mode), and the admin location reading it.

Counting happens once per request, never in the balancer (it re-runs on every upstream retry):
the request is counted open when the location picks its colour (`set_by_lua`, the rewrite phase,
where the colour is read once for the 503 check and the balancer) and closed in the log phase,
which runs once when the response — or a websocket — ends. There the last entry of the
`$upstream_status` / `$upstream_response_time` lists (one per upstream tried) is what the client
got. A 101 is counted but kept out of latency: its "response time" is the websocket's lifetime.

Reload mode has no Lua of its own, but where the Lua module is loaded the same counting is
rendered there too (the colour is the rendered `$bluegreen_live`, the same for the whole request
inside one worker, even across a reload), with a small admin server that serves only the counters.
Without the module `nginx -t` rejects the Lua, and the driver renders reload mode without it.

The counters live in their own `lua_shared_dict`, so they survive reloads and never compete with
the live colour's dict for space. Keys are flat ("blue:req", "green:le100");
console/core/measures/traffic.py turns them into figures.
"""

from __future__ import annotations

from console.core.measures.traffic import LATENCY_BOUNDS_MS

TRAFFIC_PATH = "/bluegreen/traffic"
TRAFFIC_DICT = "lua_shared_dict bluegreen_traffic 256k;\n"

_BOUNDS = ", ".join(f"{b:g}" for b in LATENCY_BOUNDS_MS)


def pick_and_open(route: str = "") -> str:
    """The location's colour pick; also counts the request open (and, with Upgrade, as a
    websocket). `route` (nginx/routes.route_lua) may change the colour to the one serving this
    request — a preview or canary — so it is counted under the colour that served it."""
    return (
        "# Read the live colour once per request: the 503 check and the balancer agree. The\n"
        "# request is counted open here (once), and closed in the log phase below.\n"
        "set_by_lua_block $bluegreen_live {\n"
        '    local live = ngx.shared.bluegreen:get("live") or ngx.var.bluegreen_rendered\n'
        f"{route}"
        f"{OPEN_AND_RETURN}"
    )


# The end of the pick: count the request open under the colour it goes to, then return it.
OPEN_AND_RETURN = (
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

NO_LUA_NOTE = "no traffic figures without the Lua module"
# What the http include says when reload mode was rendered without Lua (nginx -t refused it).
NO_LUA_MARKER = "# bluegreen counters=off: this nginx has no Lua module"
# Reload mode: `$bluegreen_live` is a map; the request is counted open under its own variable.
OPEN_ONLY = (
    "# Count the request open (once) under the colour this worker routes to; closed below.\n"
    "set_by_lua_block $bluegreen_counted {\n"
    "    local live = ngx.var.bluegreen_live\n"
    f"{OPEN_AND_RETURN}"
)


def lua_unavailable(error: str) -> bool:
    """Whether `nginx -t` refused the include because the Lua module is not loaded."""
    return "unknown directive" in error and "lua" in error


def _closed(variable: str) -> str:
    """The log phase's start: the request (and a websocket) closed under the colour named by
    `variable`; a request that went to no colour is not counted."""
    return (
        "log_by_lua_block {\n"
        f"    local live = ngx.var.{variable}\n"
        '    if live ~= "blue" and live ~= "green" then\n'
        "        return\n"
        "    end\n"
        "    local t = ngx.shared.bluegreen_traffic\n"
        '    t:incr(live .. ":open", -1, 0)\n'
        "    if ngx.var.http_upgrade then\n"
        '        t:incr(live .. ":ws", -1, 0)\n'
        "    end\n"
    )


def count_on_log(variable: str) -> str:
    """The log-phase counting, reading the colour the request was counted open under."""
    return COUNT_ON_LOG.replace("ngx.var.bluegreen_live", f"ngx.var.{variable}", 1)


COUNT_ON_LOG = (
    "# Per-colour counters, once per request when it ends (see bluegreen's nginx_traffic.py).\n"
    f"{_closed('bluegreen_live')}"
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


def counting_server(listen: str, token_check: str, more: str = "") -> str:
    """Reload mode: the dict and an admin server that serves only the counters (and `more`
    locations: the sessions seen, nginx/sessions)."""
    return (
        f"\n{TRAFFIC_DICT}\n"
        f"# GET {TRAFFIC_PATH} reads the per-colour traffic counters.\n"
        f"{listen}"
        "    access_log off;\n"
        f"{traffic_location(token_check)}"
        f"{more}"
        "    location / {\n"
        "        return 404;\n"
        "    }\n"
        "}\n"
    )


def count_on_log_batched(variable: str = "bluegreen_live") -> str:
    """The log-phase counting with per-worker batching: the open/websocket gauges stay exact in
    the shared dict (a drain decision reads them), everything else is summed in a table of this
    worker's Lua VM and added to the dict by a timer 0.1 s after the first request of a batch —
    one shared-memory lock per key per batch instead of six per request. A reading is at most
    0.1 s behind; a worker that exits loses at most that batch."""
    return (
        "# Per-colour counters, summed per worker and flushed to the dict every 0.1 s.\n"
        f"{_closed(variable)}"
        "    local batch = package.loaded.bluegreen_batch\n"
        "    if not batch then\n"
        f"        batch = {{ counts = {{}}, pending = false, bounds = {{ {_BOUNDS} }} }}\n"
        "        batch.flush = function()\n"
        "            local counts = batch.counts\n"
        "            batch.counts, batch.pending = {}, false\n"
        "            local dict = ngx.shared.bluegreen_traffic\n"
        "            for key, n in pairs(counts) do\n"
        "                dict:incr(key, n, 0)\n"
        "            end\n"
        "        end\n"
        "        package.loaded.bluegreen_batch = batch\n"
        "    end\n"
        "    local c = batch.counts\n"
        '    local key = live .. ":req"\n'
        "    c[key] = (c[key] or 0) + 1\n"
        "    -- The lists hold one entry per upstream tried: the last is what the client got.\n"
        '    local status = tonumber(string.match(ngx.var.upstream_status or "", "(%d+)%D*$"))\n'
        "        or ngx.status\n"
        "    local class = math.floor(status / 100)\n"
        "    if class >= 2 and class <= 5 then\n"
        '        key = live .. ":" .. class .. "xx"\n'
        "        c[key] = (c[key] or 0) + 1\n"
        "    end\n"
        "    local seconds = status ~= 101 and tonumber(\n"
        '        string.match(ngx.var.upstream_response_time or "", "([%d.]+)[^%d.]*$"))\n'
        "    if seconds then\n"
        '        key = live .. ":rt_us"\n'
        "        c[key] = (c[key] or 0) + math.floor(seconds * 1000000 + 0.5)\n"
        '        key = live .. ":timed"\n'
        "        c[key] = (c[key] or 0) + 1\n"
        "        local ms = seconds * 1000\n"
        '        key = live .. ":le_inf"\n'
        "        for _, bound in ipairs(batch.bounds) do\n"
        "            if ms <= bound then\n"
        '                key = live .. ":le" .. bound\n'
        "                break\n"
        "            end\n"
        "        end\n"
        "        c[key] = (c[key] or 0) + 1\n"
        "    end\n"
        "    if not batch.pending then\n"
        "        -- No timer (the worker is exiting, or too many are pending): flush right away.\n"
        "        batch.pending = ngx.timer.at(0.1, batch.flush) and true or false\n"
        "        if not batch.pending then\n"
        "            batch.flush()\n"
        "        end\n"
        "    end\n"
        "}\n"
    )
