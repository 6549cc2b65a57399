"""`bluegreen proxy snippet` for every configured service: one service's snippet as ever; for
several, each proxy family's shared form (nginx/fleet.py, haproxy/fleet.py) — what goes in once,
what goes in per service, and how to route each — and where each service's switch verifies.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.core.config.schema import Config
from console.drivers.proxy import make_proxy
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.haproxy.fleet import fleet_snippet as haproxy_snippet
from console.drivers.proxy.nginx.driver import NginxDriver
from console.drivers.proxy.nginx.fleet import fleet_snippet as nginx_snippet


def fleet_snippet(configs: Sequence[Config]) -> str:
    """The lines for the operator's proxy configuration, for every service in `configs`: the
    shared form for several, or for one service of a directory (its proxy is meant to be
    shared, and routes it by host name or path prefix); a single file's own snippet as ever."""
    if len(configs) == 1 and not configs[0].fleet_path:
        return make_proxy(configs[0]).snippet()
    drivers = {config.service: make_proxy(config) for config in configs}
    nginx = {n: d for n, d in drivers.items() if isinstance(d, NginxDriver)}
    haproxy = {n: d for n, d in drivers.items() if isinstance(d, HaproxyDriver)}
    parts = [nginx_snippet(nginx)] if nginx else []
    parts += [haproxy_snippet(haproxy)] if haproxy else []
    return "\n".join([*parts, _probes(configs)])


def install_steps(config: Config) -> str:
    """What `proxy install` tells the operator to add once: a single file's steps as ever; for a
    service of a directory, its part of the shared proxy's configuration."""
    driver = make_proxy(config)
    if not config.fleet_path:
        return driver.install_steps()
    return (
        fleet_snippet([config])
        + "# The other services' lines: `bluegreen proxy snippet` (every service at once).\n"
        + "# Then reload the proxy, and run `bluegreen reconcile` once it serves.\n"
    )


def _probes(configs: Sequence[Config]) -> str:
    """Where each service's switch verifies, and a warning for two that verify at one URL (a
    switch of one would read the other's colour, and route back)."""
    urls = {c.service: c.proxy.proxy_url.rstrip("/") + c.proxy.probe_path for c in configs}
    lines = ["# Where each service's switch verifies ([proxy] proxy_url and probe_path):"]
    lines += [f"#    {name}: {url}" for name, url in urls.items()]
    by_url: dict[str, list[str]] = {}
    for name, url in urls.items():
        by_url.setdefault(url, []).append(name)
    for url, names in by_url.items():
        if len(names) > 1:
            lines += [
                f"# WARNING: {' and '.join(names)} verify at the same {url}:",
                "#    give each its own proxy_url (its host name or path prefix above), or a",
                "#    switch of one reads another service's colour and routes back.",
            ]
    return "\n".join(lines) + "\n"
