"""Maintenance mode in HAProxy's backend: every client request answered 503 with the page.

One `http-request return … file PAGE` rule, first in the rendered backend, for requests without
bluegreen's probe header (the switch's verify probe passes; the agent's health checks go to the
colours' own ports). HAProxy reads a `file` when it loads its configuration and the runtime API
cannot add a rule, so turning it on or off is the backend file rewritten and a reload
(`[proxy] reload_command`); the servers' states come back from the rendered backend, the canary
from its map file, so routing is as it was.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from console.core.contracts.proxy import ProxyError
from console.core.fsutil import StateDirError, atomic_write
from console.core.holds import MAINTENANCE_HEADER, MaintenancePage
from console.drivers.proxy.command import run_command
from console.drivers.proxy.maintenance import PAGE_FILE, keep_page, persisted_page, wait_applied

if TYPE_CHECKING:
    from console.drivers.proxy.haproxy.driver import HaproxyDriver


def with_rule(backend_text: str, page: MaintenancePage | None, page_path: str) -> str:
    """The rendered backend with the maintenance rule after its first line when `page` is set
    (off: untouched, byte for byte)."""
    if page is None:
        return backend_text
    first, _, rest = backend_text.partition("\n")
    retry = f' hdr Retry-After "{page.retry_after}"' if page.retry_after else ""
    rule = (
        "    # bluegreen maintenance=on (`bluegreen maintenance off` restores routing)\n"
        '    http-request return status 503 content-type "text/html; charset=utf-8" '
        f'file "{page_path}" hdr {MAINTENANCE_HEADER} on hdr Cache-Control no-store{retry} '
        "if !{ req.hdr(X-Bluegreen-Probe) -m found }\n"
    )
    return f"{first}\n{rule}{rest}"


def apply_maintenance(driver: HaproxyDriver, page: MaintenancePage | None) -> None:
    """Keep the page, render the backend for where HAProxy routes now, test, reload, and wait
    until clients get the page (or routing again). A refused change is put back."""
    proxy = driver.proxy
    if not proxy.reload_command:
        raise ProxyError(
            "Maintenance on HAProxy changes its configuration, which HAProxy reads only when it "
            'loads it: set proxy.reload_command (e.g. ["systemctl", "reload", "haproxy"]) and '
            "retry. Nothing was changed."
        )
    include_dir = driver.backend_path.parent
    before_page = persisted_page(include_dir)
    before_backend = None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        before_backend = driver.backend_path.read_text(encoding="utf-8")
    seen = driver.read_back()
    live = seen.color if seen.answered else driver.persisted()
    canary = seen.canary if seen.answered else driver.persisted_canary()
    keep_page(include_dir, page)
    try:
        driver.write_files(live, canary)
        run_command(proxy.reload_command, "reload")
    except ProxyError as exc:
        keep_page(include_dir, before_page)
        if before_backend is not None:
            with contextlib.suppress(OSError, StateDirError):
                atomic_write(driver.backend_path, before_backend, mode=0o644)
        raise ProxyError(f"{exc} The previous backend is back in place.") from None
    wait_applied(driver.client_url, page is not None, proxy.verify_timeout_seconds)


def page_path(driver: HaproxyDriver) -> str:
    return str(driver.backend_path.parent.absolute() / PAGE_FILE)
