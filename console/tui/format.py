"""Small text formatters shared by the widgets (numbers, durations, clock times, ETAs)."""

from __future__ import annotations

import time


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def duration(seconds: float | None) -> str:
    """Compact duration: 45s, 12m05s, 3h12m, 2d04h."""
    if seconds is None:
        return "—"
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


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
    return f"{duration(eta_seconds)} → {arrival}"
