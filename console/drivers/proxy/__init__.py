"""The table of proxy drivers: `[proxy] kind` → the class that implements `ProxyDriver`.

Adding a proxy is one module with one class and one entry here. The contract itself (the Protocol,
`ProxyError`, `SwitchResult`, `ReadBack`) lives in `console.core.contracts.proxy` so that the drivers
and the core import it without importing this table (no import circle).
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
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.nginx.driver import NginxDriver

DRIVERS: dict[str, Callable[[Config], ProxyDriver]] = {
    "nginx": NginxDriver,  # live (Lua) and reload modes, from [proxy] mode
    "haproxy": HaproxyDriver,
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
    """The driver for `[proxy] kind`/`mode`."""
    return DRIVERS[config.proxy.kind](config)
