"""The table of proxy drivers: `[proxy]`'s `driver_key` → the class that implements `ProxyDriver`.

Each row is one way of driving a proxy: nginx in live mode, nginx in reload mode, HAProxy. The
config kind names its row (console/core/config/proxy.py: `driver_key`), so adding a proxy is one
config dataclass, one module with one class and one entry here. The contract itself (the
Protocol, `ProxyError`, `SwitchResult`, `ReadBack`) lives in `console.core.contracts.proxy` so that
the drivers and the core import it without importing this table (no import circle).
"""

from __future__ import annotations

from collections.abc import Callable

from console.core.config.schema import Config
from console.core.contracts.proxy import (
    COLOR_HEADER,
    ProxyDriver,
    ProxyError,
    ReadBack,
    SwitchResult,
)
from console.drivers.proxy.command import run_command
from console.drivers.proxy.edges.edge import build_edges
from console.drivers.proxy.edges.sessions import edge_set
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.nginx.live import NginxLiveDriver
from console.drivers.proxy.nginx.reload import NginxReloadDriver

DRIVERS: dict[str, Callable[[Config], ProxyDriver]] = {
    "nginx-live": NginxLiveDriver,  # a Lua shared dict, no reload
    "nginx-reload": NginxReloadDriver,  # rewrite, `nginx -t`, reload
    "haproxy": HaproxyDriver,  # the runtime API
}

__all__ = [
    "COLOR_HEADER",
    "DRIVERS",
    "ProxyDriver",
    "ProxyError",
    "ReadBack",
    "SwitchResult",
    "make_proxy",
    "run_command",
]


def make_proxy(config: Config) -> ProxyDriver:
    """The driver for `[proxy]` (its kind, and nginx's mode); with `[[proxy.edges]]`, one
    composite over every edge's driver (drivers/proxy/edges), changed all or none."""
    if config.proxy.edges:
        edges = build_edges(config, lambda one: DRIVERS[one.proxy.driver_key](one))
        return edge_set(edges, config.proxy.verify_timeout_seconds)
    return DRIVERS[config.proxy.driver_key](config)
