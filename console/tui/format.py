"""Small text formatters shared by the widgets (numbers, clock times, rates, ETAs).

Durations are spelt by the core's `duration_text`, the same in the CLI and the TUI.
"""

from __future__ import annotations

import time

from console.core.durations import duration_text


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def clock_time(at: float | None) -> str:
    return "—" if at is None else time.strftime("%H:%M:%S", time.localtime(at))


def moment(at: float, now: float) -> str:
    """A clock time, with the date when it is not from the last day (old audit events)."""
    if now - at < 86_400:
        return clock_time(at)
    return time.strftime("%m-%d %H:%M", time.localtime(at))


def rate(blocks_per_second: float | None) -> str:
    if blocks_per_second is None:
        return "—"
    if abs(blocks_per_second) >= 100:
        return f"{blocks_per_second:,.0f} b/s"
    return f"{blocks_per_second:.1f} b/s"


def eta(eta_seconds: float | None, now: float) -> str:
    """'17m05s → 14:32' (time of arrival on the wall clock), or why there is none."""
    if eta_seconds is None:
        return "— (not closing in)"
    arrival = time.strftime("%H:%M", time.localtime(now + eta_seconds))
    return f"{duration_text(eta_seconds)} → {arrival}"
