"""The nginx driver's canary: set it (dict + file in live mode, files + reload in reload mode),
wait for a reload to apply it, and read what the file records. `NginxDriver` delegates here, so
the driver stays readable; the rendering is in nginx_routes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from console.core.contracts.proxy import ProxyError
from console.core.model import Canary, other
from console.drivers.proxy.command import run_command
from console.drivers.proxy.nginx.render import HTTP_FILE, render_http_conf
from console.drivers.proxy.nginx.routes import parse_persisted_canary
from console.drivers.proxy.probe import RELOAD_CONFIRMATIONS

if TYPE_CHECKING:
    from console.drivers.proxy.nginx.driver import NginxDriver


def set_canary(driver: NginxDriver, canary: Canary | None) -> None:
    running = driver.read_back()
    live = running.color if running.answered else driver.persisted()
    if canary is not None and canary.color in (live, None):
        raise ProxyError(
            f"A canary goes to the idle colour, and {running.describe()}: nothing was changed.",
            read_back=running,
        )
    if driver.mode == "reload":
        # The files name the live colour and the split; a reload applies both together.
        previous = {p: read_bytes(p) for p in (driver.http_path, driver.location_path)}
        driver.write_files(live, canary)
        try:
            run_command(driver._proxy.reload_command, "reload")
        except ProxyError as exc:
            driver._restore(previous)
            seen = driver.read_back()
            raise ProxyError(f"{exc} The files are restored.", read_back=seen) from None
        wait_for_canary(driver, canary)
        return
    driver.admin.set_canary(canary, other(live) if live else "green")
    # Persisted after the dict (as a switch is), so a restart keeps the weight.
    try:
        driver._write(driver.http_path, render_http_conf(driver.layout(), live, canary))
    except ProxyError as exc:
        raise ProxyError(
            f"nginx applies it, but {HTTP_FILE} could not record it ({exc}): run reconcile.",
            read_back=driver.read_back(),
        ) from None


def wait_for_canary(driver: NginxDriver, canary: Canary | None) -> None:
    # `nginx -s reload` returns before the new workers take requests, and the old ones accept
    # for a moment after: the weight counts as applied once several read-backs in a row (each on
    # a new connection, through the proxy) answer it.
    deadline = time.monotonic() + driver._proxy.verify_timeout_seconds
    in_a_row = 0
    while True:
        seen = driver.read_back()
        in_a_row = in_a_row + 1 if seen.canary == canary else 0
        if in_a_row >= RELOAD_CONFIRMATIONS or time.monotonic() >= deadline:
            break
        if not in_a_row:
            time.sleep(0.05)
    if in_a_row < RELOAD_CONFIRMATIONS:
        raise ProxyError(
            f"nginx was reloaded but still answers as if {seen.describe()} after "
            f"{driver._proxy.verify_timeout_seconds:.0f} s: check its error log.",
            read_back=seen,
        )


def persisted_canary(http_path: Path) -> Canary | None:
    try:
        return parse_persisted_canary(http_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
