"""What every proxy's maintenance mode shares: the page kept in the include directory, and the
wait until the running proxy answers (or stops answering) with it.

The page is the operator's file (or a page made from `--message`), copied atomically into the
directory bluegreen owns, so the rendered configuration can name it and a proxy restart answers
it again; its Retry-After sits beside it. The rendering itself is each proxy's
(nginx/maintenance.py, haproxy/maintenance.py).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import httpx

from console.core.contracts.proxy import ProxyError
from console.core.fsutil import StateDirError, atomic_write
from console.core.holds import MAINTENANCE_HEADER, MaintenancePage
from console.drivers.proxy.probe import RELOAD_CONFIRMATIONS, probe_client

PAGE_FILE = "bluegreen-maintenance.html"
SETTINGS_FILE = "bluegreen-maintenance.json"


def persisted_page(include_dir: Path) -> MaintenancePage | None:
    """The page the owned files answer with (None: maintenance is off)."""
    try:
        html = (include_dir / PAGE_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    retry: int | None = None
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        value = json.loads((include_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
        retry = int(value["retry_after"]) if value.get("retry_after") else None
    return MaintenancePage(html, retry)


def keep_page(include_dir: Path, page: MaintenancePage | None) -> None:
    """Write (or, for None, remove) the page and its settings, each in one atomic rename."""
    page_path, settings_path = include_dir / PAGE_FILE, include_dir / SETTINGS_FILE
    try:
        if page is None:
            page_path.unlink(missing_ok=True)
            settings_path.unlink(missing_ok=True)
            return
        include_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        atomic_write(settings_path, json.dumps({"retry_after": page.retry_after}), mode=0o644)
        atomic_write(page_path, page.html, mode=0o644)
    except (OSError, StateDirError) as exc:
        raise ProxyError(f"Cannot write the maintenance page in {include_dir}: {exc}") from None


def wait_applied(url: str, on: bool, timeout: float) -> None:
    """Until a client request (no probe header) through the proxy gets the maintenance page
    (`on`) or anything else (off), several times in a row on new connections — a reload runs
    old and new workers side by side for a moment. ProxyError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    in_a_row = 0
    seen = "no answer"
    while in_a_row < RELOAD_CONFIRMATIONS:
        try:
            with probe_client(timeout=max(0.5, min(timeout, 2.0))) as client:
                response = client.get(url)
            paged = MAINTENANCE_HEADER in response.headers
            seen = f"{response.status_code}" + (" with the maintenance page" if paged else "")
            in_a_row = in_a_row + 1 if paged == on else 0
        except httpx.HTTPError:
            in_a_row = 0
        if in_a_row < RELOAD_CONFIRMATIONS:
            if time.monotonic() >= deadline:
                want = "the maintenance page" if on else "routing again"
                raise ProxyError(
                    f"The proxy at {url} still answers {seen} {timeout:.0f} s after the change "
                    f"to {want}: check its error log."
                )
            if not in_a_row:
                time.sleep(0.05)
