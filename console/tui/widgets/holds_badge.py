"""The freeze and maintenance on the console's header: what everyone must see before acting."""

from __future__ import annotations

from console.core.durations import duration_text
from console.core.holds import Holds


def holds_parts(holds: Holds, now: float) -> list[str | tuple[str, str]]:
    """Header parts: '  ❄ FROZEN by alice (2h left): "no releases"', '  ⛔ MAINTENANCE'."""
    parts: list[str | tuple[str, str]] = []
    freeze = holds.freeze
    if freeze is not None:
        left = f", {duration_text(freeze.until - now)} left" if freeze.until is not None else ""
        parts.append((f'  ❄ FROZEN by {freeze.actor}{left}: "{freeze.message}"', "bold $warning"))
    if holds.maintenance is not None:
        retry = holds.maintenance.retry_after
        after = f", Retry-After {retry} s" if retry else ""
        parts.append((f"  ⛔ MAINTENANCE: clients get 503{after}", "bold $error"))
    return parts


def holds_alerts(holds: Holds, now: float) -> dict[str, str]:
    """The overview row's alert words (fleet_rows) → their sentences."""
    alerts: dict[str, str] = {}
    if holds.freeze is not None:
        alerts["frozen"] = f"releases {holds.freeze.describe(now)}"
    if holds.maintenance is not None:
        alerts["maintenance"] = holds.maintenance.describe()
    return alerts
