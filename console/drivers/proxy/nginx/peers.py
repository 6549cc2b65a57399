"""nginx live mode in front of a colour of several replicas (a Swarm service's tasks, each at
NODE_ADDRESS:PORT): the colour's upstream is the list of its tasks' endpoints.

The list lives in the shared dict beside the live colour (`peers:blue`, `peers:green`), set
through the admin endpoint (POST /bluegreen/peers?color=C&peers=H:P,H:P) by the agent whenever a
colour's answering replicas change. The balancer spreads requests over the live colour's peers and
moves a request that cannot connect (within PEER_CONNECT_SECONDS: a vanished node answers
nothing) to the next one (`set_more_tries`), so a task that just died costs a retry, not an
error; a colour without a list is 127.0.0.1:host_port, as for one container.
Rendered only for a Swarm runtime (`NginxLayout.peers`): every other install's files stay as they
were, byte for byte.
"""

from __future__ import annotations

import re

PEERS_PATH = "/bluegreen/peers"
# HOST:PORT with an IPv4 address or a DNS name (no IPv6 literals: Swarm advertises IPv4 here).
_PEER = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


def peer_value(peers: list[str]) -> str:
    """The admin endpoint's `peers` parameter; ValueError for anything not HOST:PORT."""
    for peer in peers:
        if not _PEER.match(peer):
            raise ValueError(f"'{peer}' is not HOST:PORT")
    return ",".join(peers)


def color_pattern(port: int, peers: bool) -> str:
    """The `$upstream_addr` pattern of a colour's port: on any node with peers, else loopback."""
    return f"~:{port}$" if peers else f"~127\\.0\\.0\\.1:{port}$"


# A replica's node that vanished (its link down, a host gone without closing its connections)
# answers nothing: each try waits this long to connect before moving on to the next replica,
# not nginx's default 60 s (a LAN connects in well under a millisecond). Send and read timeouts
# stay the operator's.
PEER_CONNECT_SECONDS = 1

# Replaces `set_current_peer("127.0.0.1", port)` in the balancer: pick among the live colour's
# peers (a random start per request, then the next one on each retry).
BALANCER_PICK = (
    '        local host = "127.0.0.1"\n'
    '        local list = ngx.shared.bluegreen:get("peers:" .. live)\n'
    '        if list and list ~= "" then\n'
    "            local peers = {}\n"
    '            for peer in string.gmatch(list, "[^,]+") do\n'
    "                peers[#peers + 1] = peer\n"
    "            end\n"
    "            local ctx = ngx.ctx\n"
    "            if not ctx.bluegreen_try then\n"
    "                ctx.bluegreen_try = 0\n"
    "                ctx.bluegreen_first = math.random(#peers)\n"
    "                if #peers > 1 then\n"
    "                    balancer.set_more_tries(#peers - 1)\n"
    "                end\n"
    f"                balancer.set_timeouts({PEER_CONNECT_SECONDS})  -- connect only\n"
    "            end\n"
    "            local peer = peers[(ctx.bluegreen_first + ctx.bluegreen_try - 1) % #peers + 1]\n"
    "            ctx.bluegreen_try = ctx.bluegreen_try + 1\n"
    '            local h, p = string.match(peer, "^(.+):(%d+)$")\n'
    "            host, port = h, tonumber(p)\n"
    "        end\n"
    "        local ok, err = balancer.set_current_peer(host, port)\n"
)


def peers_location(token_check: str) -> str:
    """The admin server's POST /bluegreen/peers (set one colour's list, "" = none) and GET (both
    colours' lists, one line each)."""
    return (
        f"    location = {PEERS_PATH} {{\n"
        "        default_type text/plain;\n"
        "        content_by_lua_block {\n"
        f"{token_check}"
        "            local dict = ngx.shared.bluegreen\n"
        '            if ngx.req.get_method() == "POST" then\n'
        "                local color = ngx.var.arg_color\n"
        '                if color ~= "blue" and color ~= "green" then\n'
        "                    ngx.status = 400\n"
        '                    ngx.say("color must be blue or green")\n'
        "                    return\n"
        "                end\n"
        '                local peers = ngx.unescape_uri(ngx.var.arg_peers or "")\n'
        '                if not string.match(peers, "^[%w%.%-:,]*$") then\n'
        "                    ngx.status = 400\n"
        '                    ngx.say("peers must be HOST:PORT,HOST:PORT")\n'
        "                    return\n"
        "                end\n"
        '                local ok, err = dict:set("peers:" .. color, peers)\n'
        "                if not ok then\n"
        "                    ngx.status = 500\n"
        '                    ngx.say("cannot store the peers: ", err)\n'
        "                    return\n"
        "                end\n"
        "                ngx.say(peers)\n"
        "                return\n"
        "            end\n"
        '            ngx.say("blue ", dict:get("peers:blue") or "")\n'
        '            ngx.say("green ", dict:get("peers:green") or "")\n'
        "        }\n"
        "    }\n"
    )
