"""`proxy snippet` for several services in one HAProxy: one runtime API, one backend per service
(each in its own file, loaded with one more `-f`), and the frontend's `use_backend` rules that
route by host name or by path prefix.

Each backend holds its own `blue` and `green` servers, its own canary map and state file (in the
service's include directory), and HAProxy counts per backend: a switch of one service is a
runtime-API line naming its backend, which never touches another's.
"""

from __future__ import annotations

from console.drivers.proxy.haproxy.driver import HaproxyDriver


def fleet_snippet(services: dict[str, HaproxyDriver]) -> str:
    """The lines for the operator's haproxy.cfg and its command line, for every service."""
    sockets = sorted({driver.socket_path for driver in services.values()})
    first = next(iter(services))
    lines = [
        "# Several services in one HAProxy: `bluegreen proxy install --service NAME` writes each",
        "# service's backend file; then:",
        "",
        "# 1. In the global section, once (the runtime API bluegreen switches through):",
        *(f"    stats socket {path} mode 600 level admin" for path in sockets),
        "",
        "# 2. Load each service's backend with one more -f (Debian: CONFIG in",
        "#    /etc/default/haproxy):",
        *_command_line([str(driver.backend_path) for driver in services.values()]),
        "",
        "# 3. Route each service in your frontend, either by host name:",
        *(
            f"    use_backend {driver.backend} if {{ hdr(host) -i {name}.example.com }}"
            for name, driver in services.items()
        ),
        "#    or by path prefix (the service sees the prefix in its paths):",
        *(
            f"    use_backend {driver.backend} if {{ path_beg /{name}/ }}"
            for name, driver in services.items()
        ),
        "#    Each service's [proxy] proxy_url must reach its own backend through these rules",
        f"#    (for example http://{first}.example.com, or http://127.0.0.1:80/{first}): a switch",
        "#    probes the service there.",
        "",
        "# After an HAProxy restart, run `bluegreen reconcile` (runtime changes are not kept);",
        "# each service's live colour is in its state file:",
        *(f"#    {name}: {driver.state_path}" for name, driver in services.items()),
    ]
    return "\n".join(lines) + "\n"


def _command_line(backend_files: list[str]) -> list[str]:
    """`haproxy -f … -f …` as comment lines, one file a line."""
    files = ["/etc/haproxy/haproxy.cfg", *backend_files]
    lines = [f"#            -f {path} \\" for path in files]
    lines[0] = lines[0].replace("#           ", "#    haproxy", 1)
    lines[-1] = lines[-1].removesuffix(" \\")
    return lines
