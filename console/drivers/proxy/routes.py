"""What every proxy's preview and canary routes depend on: the `[proxy]` route keys.

Each proxy renders them its own way (nginx/routes.py: Lua or maps; haproxy/routes.py: ACLs and a
map file); the keys themselves are checked in console/core/config/routes.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.core.config.proxy import ProxyBase


@dataclass(frozen=True, slots=True)
class Routes:
    """The `[proxy]` route keys the rendered files depend on."""

    preview: bool = False
    preview_header: str = "X-Bluegreen-Preview"
    preview_cookie: str = "bluegreen_preview"
    canary_cookie: str = "bluegreen_canary"

    @classmethod
    def of(cls, proxy: ProxyBase) -> Routes:
        return cls(proxy.preview, proxy.preview_header, proxy.preview_cookie, proxy.canary_cookie)


NO_ROUTES = Routes()
