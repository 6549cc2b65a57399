"""`proxy snippet` for several services in one nginx: what goes in once, one http include per
service, and the two ways to route a request to its service — by host name (one `server { }` per
service) or by path prefix (one `location` per service).

Each service's includes define only names of its own (nginx/naming.py), so they sit side by side
in one `http { }`; each has its own admin socket, so a switch of one never touches another.
"""

from __future__ import annotations

from console.drivers.proxy.nginx.driver import NginxDriver
from console.drivers.proxy.nginx.snippet import main_context_lines


def fleet_snippet(services: dict[str, NginxDriver]) -> str:
    """The lines for the operator's nginx configuration, for every service in `services`."""
    modes = {driver.mode for driver in services.values()}
    lines = [
        "# Several services in one nginx: `bluegreen proxy install --service NAME` writes each",
        "# service's two files (and validates them); then add these lines to your nginx",
        "# configuration once.",
        "",
        *main_context_lines("live" if "live" in modes else "reload"),
        "",
        "# 2. Inside http { }, one line per service:",
        *(f"include {driver.http_path};" for driver in services.values()),
        "",
        "# 3. Route each service, either by host name — one server { } per service:",
    ]
    for name, driver in services.items():
        lines += [
            "server {",
            "    listen 80;",
            f"    server_name {name}.example.com;  # {name}'s host name",
            "    location / {",
            f"        include {driver.location_path};",
            "    }",
            "}",
        ]
    lines += [
        "#    each service's [proxy] proxy_url must reach its own server { } (for example",
        f"#    http://{next(iter(services))}.example.com): a switch probes the service there.",
        "#",
        "#    or by path prefix — one location per service, in one server { }:",
        "server {",
        "    listen 80;",
    ]
    for name, driver in services.items():
        lines += [
            f"    location /{name}/ {{",
            f"        include {driver.location_path};",
            "    }",
        ]
    lines += [
        "}",
        "#    the service sees the prefix in its paths, and its [proxy] proxy_url ends in it",
        f"#    (for example http://127.0.0.1:80/{next(iter(services))}): a switch probes there.",
        "",
        "# nginx in a container: bind-mount each service's directory (or their parent), not the",
        "# files; bluegreen replaces them by rename, which a single-file mount would not show.",
    ]
    sockets = [
        (n, d.admin_socket) for n, d in services.items() if d.mode == "live" and not d.admin_tcp
    ]
    if sockets:
        lines += [
            "# The admin endpoints are unix sockets, one per service; each directory must be",
            "# reachable by nginx's master and by nobody but the operators:",
            *(f"#    {name}: {path}" for name, path in sockets),
        ]
    previews = [n for n, d in services.items() if d.routes.preview]
    if previews:
        lines += [
            f"# Preview routes are on for {', '.join(previews)}: `bluegreen proxy snippet "
            "--service NAME`",
            "# shows how to keep them to trusted addresses.",
        ]
    return "\n".join(lines) + "\n"
