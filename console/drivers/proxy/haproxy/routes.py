"""Preview and canary routes in HAProxy: rules in bluegreen's backend, a map for the canary.

The idle server is in `drain` (weight 0, still up), so load balancing never picks it but a
`use-server` rule can: the rules put the chosen colour in `txn.bg_pick`, and
`use-server %[var(txn.bg_pick)]` sends the request there. The HAProxy traffic counters are per
server, so a preview or canary request is counted under the colour that served it.

- Preview (`[proxy] preview`): the header, else the cookie, naming blue or green.
- Canary: `color` and `percent` in a map file bluegreen owns, changed at runtime with `set map`
  (no reload) and rewritten atomically so a restart loads the same weight. A client's key is the
  canary cookie if it sends one, else its address; `crc32(key) % 100 < percent` goes to the
  canary colour, so each client always lands on the same one.
"""

from __future__ import annotations

import re
from pathlib import Path

from console.core.model import COLORS, Canary
from console.drivers.proxy.routes import Routes

MAP_FILE = "bluegreen-haproxy-routes.map"
_SHOW_MAP_LINE = re.compile(r"^0x[0-9a-f]+ (color|percent) (\S+)$", re.MULTILINE)


def render_map(canary: Canary | None) -> str:
    color, percent = (canary.color, canary.percent) if canary else ("none", 0)
    return (
        "# bluegreen: the canary of its HAProxy backend (set at runtime with `set map`).\n"
        f"color {color}\npercent {percent}\n"
    )


def _canary(values: dict[str, str]) -> Canary | None:
    color, percent = values.get("color"), values.get("percent", "")
    if color not in COLORS or not percent.isdigit() or not 0 < int(percent) < 100:
        return None
    return Canary("blue" if color == "blue" else "green", int(percent))


def parse_map_file(text: str) -> Canary | None:
    values = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            values[key] = value.strip()
    return _canary(values)


def parse_show_map(answer: str) -> Canary | None:
    """`show map FILE` → the canary it holds; None for none or an unknown map."""
    return _canary(dict(_SHOW_MAP_LINE.findall(answer)))


def set_map_command(map_path: Path, canary: Canary | None) -> str:
    """One runtime-API line: percent last when starting (never a share for the old colour),
    first when ending."""
    color, percent = (canary.color, canary.percent) if canary else ("none", 0)
    set_color = f"set map {map_path} color {color}"
    set_percent = f"set map {map_path} percent {percent}"
    return f"{set_color}; {set_percent}" if canary else f"{set_percent}; {set_color}"


def render_rules(routes: Routes, map_path: Path) -> str:
    """The backend's route rules (after the 503 rule, before the servers)."""
    text = "    # Preview and canary (bluegreen's haproxy_routes.py): who serves this request.\n"
    if routes.preview:
        cookie, header = routes.preview_cookie, routes.preview_header
        text += (
            f"    http-request set-var(txn.bg_pick) req.cook({cookie}) "
            f"if {{ req.cook({cookie}) -m str blue green }}\n"
            f"    http-request set-var(txn.bg_pick) req.hdr({header}) "
            f"if {{ req.hdr({header}) -m str blue green }}\n"
        )
    cookie = routes.canary_cookie
    text += (
        f"    http-request set-var(txn.bg_canary) str(color),map({map_path},none)\n"
        f"    http-request set-var(txn.bg_percent) str(percent),map({map_path},0),add(0)\n"
        "    http-request set-var(txn.bg_key) src\n"
        f"    http-request set-var(txn.bg_key) req.cook({cookie}) "
        f"if {{ req.cook({cookie}) -m len gt 0 }}\n"
        "    http-request set-var(txn.bg_bucket) var(txn.bg_key),crc32,mod(100)\n"
        "    http-request set-var(txn.bg_pick) var(txn.bg_canary) "
        "if !{ var(txn.bg_pick) -m found } !{ req.hdr(X-Bluegreen-Probe) -m found } "
        "{ var(txn.bg_canary) -m str blue green } "
        "{ var(txn.bg_bucket),sub(txn.bg_percent) lt 0 }\n"
        "    use-server %[var(txn.bg_pick)] if { var(txn.bg_pick) -m found }\n"
    )
    return text


def preview_snippet(routes: Routes) -> str:
    if not routes.preview:
        return "# Preview routes are off ([proxy] preview = false).\n"
    return (
        f"# Preview is on: `{routes.preview_header}: green` (or the cookie "
        f"{routes.preview_cookie}=green) sends a\n"
        "# request to that colour. Allow it only from trusted addresses, in your frontend:\n"
        "    acl bluegreen_trusted src 127.0.0.1 10.0.0.0/8  # your office, VPN, CI runners\n"
        f"    http-request del-header {routes.preview_header} unless bluegreen_trusted\n"
        f"    http-request deny deny_status 403 if {{ req.cook({routes.preview_cookie}) -m found }}"
        " !bluegreen_trusted\n"
    )
