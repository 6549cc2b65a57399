"""Maintenance mode in nginx's includes: every client request answered 503 with the page.

Rendered into both includes (not only into a running nginx's memory), so a restart keeps it, and
without Lua, so reload mode without the module does it too. The page is inlined into a `return`:
nginx's `error_page` would need a location of its own, which an include inside the operator's
location cannot add. nginx interpolates `$` in a returned text and has no escape for it, so each
`$` of the page is written as `${bluegreen_dollar}`, a `geo` variable whose value is a plain `$`.

bluegreen's own requests carry X-Bluegreen-Probe (the switch's verify probe, the read-back) and
pass, so a switch during maintenance is still verified through the proxy; the agent's health
checks go to the colours' own ports and never meet the page. The check runs first in the
location, before the colour pick, so a maintenance answer is counted under no colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.core.contracts.proxy import ProxyError
from console.core.holds import MAINTENANCE_HEADER, MaintenancePage
from console.drivers.proxy.maintenance import keep_page, persisted_page, wait_applied
from console.drivers.proxy.nginx.naming import named
from console.drivers.proxy.nginx.routes import PROBE_HEADER, nginx_header_variable

if TYPE_CHECKING:
    from console.drivers.proxy.nginx.driver import NginxDriver

MARKER = "# bluegreen maintenance=on"


def http_block(on: bool) -> str:
    """Appended to the http include while maintenance is on (`on`); "" otherwise."""
    if not on:
        return ""
    return (
        f"\n{MARKER}: the location include answers clients with the page.\n"
        "# A plain $, for the page's own (nginx would read $ in a returned text as a variable).\n"
        "geo $bluegreen_dollar {\n"
        '    default "$";\n'
        "}\n"
    )


def with_location_block(location: str, page: MaintenancePage | None, name: str) -> str:
    """The location include as rendered, with the maintenance check first when `page` is set
    (off: untouched, byte for byte). Named like the rest of the include (nginx/naming)."""
    if page is None:
        return location
    retry = f"    add_header Retry-After {page.retry_after} always;\n" if page.retry_after else ""
    probe = nginx_header_variable(PROBE_HEADER)
    block = (
        f"{MARKER} (`bluegreen maintenance off` restores routing)\n"
        "default_type text/html;  # for the page below; proxied answers keep their own type\n"
        f'if (${probe} = "") {{\n'
        f"    add_header {MAINTENANCE_HEADER} on always;\n"
        '    add_header Cache-Control "no-store" always;\n'
        f"{retry}"
        f'    return 503 "{_quoted(page.html, named("${bluegreen_dollar}", name))}";\n'
        "}\n"
    )
    return block + location


def _quoted(text: str, dollar: str) -> str:
    """`text` inside an nginx double-quoted string: \\ and " escaped, $ through the geo."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return escaped.replace("$", dollar)


def apply_maintenance(driver: NginxDriver, page: MaintenancePage | None) -> None:
    """Keep the page (or remove it), render both includes for where nginx routes now, validate,
    reload, and wait until clients get the page (or routing again). A refused set is put back."""
    before_files, before_page = driver.files_now(), persisted_page(driver.include_dir)
    seen = driver.read_back()
    live = seen.color if seen.answered else driver.persisted()
    canary = seen.canary if seen.answered else driver.persisted_canary()
    keep_page(driver.include_dir, page)
    try:
        driver.write_files(live, canary)  # validated; put back by itself if nginx -t refuses
        driver.reload("apply")
    except ProxyError as exc:
        keep_page(driver.include_dir, before_page)
        driver.restore(before_files)
        raise ProxyError(f"{exc} The previous files are back in place.") from None
    wait_applied(driver.client_url, page is not None, driver.proxy.verify_timeout_seconds)
