"""The table of proxy drivers: `[proxy] kind` → the class that implements `ProxyDriver`.

Adding a proxy is one module with one class and one entry here. The contract itself (the Protocol,
`ProxyError`, `SwitchResult`, `ReadBack`) lives in `console.core.proxy_types` so that the drivers
and the core import it without importing this table (no import circle).
"""

from __future__ import annotations

from collections.abc import Callable

from console.core.config import Config
from console.core.proxy_types import (
    COLOR_HEADER,
    ProxyDriver,
    ProxyError,
    ReadBack,
    SwitchResult,
)
from console.drivers.haproxy import HaproxyDriver
from console.drivers.nginx import NginxDriver
from console.drivers.proxy_command import run_command

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
