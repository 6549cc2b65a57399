"""What the operator adds to their own nginx configuration for bluegreen's two includes (`bluegreen
proxy snippet`, `proxy install`'s steps): pure text, the same for one service or a fleet's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal


def render_snippet(
    mode: Literal["live", "reload"],
    http_path: Path,
    location_path: Path,
    include_dir: Path,
    admin_socket: str,
) -> str:
    """What the operator adds to their own nginx configuration (`proxy snippet`), where it goes.
    `admin_socket`: the live-mode admin socket ("" when the admin endpoint is TCP)."""
    lines = [
        "# `bluegreen proxy install` writes the two files named below (and validates them);",
        "# run it first, then add these lines to your own nginx configuration.",
        "",
        *main_context_lines(mode),
        "",
        "# 2. Inside http { }:",
        f"include {http_path};",
        "",
        "# 3. Inside the server { } that serves the service:",
        "location / {",
        f"    include {location_path};",
        "}",
        "",
        f"# nginx in a container: bind-mount the directory {include_dir}, not the files;",
        "# bluegreen replaces them by rename, which a single-file mount would not show.",
    ]
    if mode == "live" and admin_socket:
        lines += [
            f"# The admin endpoint is the unix socket {admin_socket}: its directory must",
            "# be reachable by nginx's master and by nobody but the operators.",
        ]
    return "\n".join(lines) + "\n"


def main_context_lines(mode: Literal["live", "reload"]) -> list[str]:
    """Step 1 of the snippet: what goes in nginx.conf's main context, once per nginx."""
    if mode == "live":
        lines = [
            "# 1. Main context, top of nginx.conf (Debian's libnginx-mod-http-lua package",
            "#    already does this in /etc/nginx/modules-enabled/):",
            "load_module modules/ndk_http_module.so;",
            "load_module modules/ngx_http_lua_module.so;",
            "# and, for your own reloads, so old workers cannot live on for hours with open",
            "# websockets:",
        ]
    else:
        lines = [
            "# Traffic figures per colour need the Lua module (Debian: libnginx-mod-http-lua);",
            "# without it the includes are written without counting, and the console says so.",
            "# 1. Main context, top of nginx.conf: old workers must not outlive a reload by",
            "#    hours because of open websockets.",
        ]
    return [*lines, "worker_shutdown_timeout 10s;"]
