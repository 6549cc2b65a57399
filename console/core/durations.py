"""The one spelling of a duration an operator reads: in the CLI, the TUI and the core's sentences.

Two units at most, the second zero-padded, as k9s and kubectl print ages: 45s, 12m05s, 3h12m,
2d04h. An ETA, an uptime and a "full in" read the same wherever they appear.
"""

from __future__ import annotations

import math

UNKNOWN = "—"


def duration_text(seconds: float | None) -> str:
    """'45s', '12m05s', '3h12m', '2d04h'; '—' when unknown (None, or not a finite number)."""
    if seconds is None or not math.isfinite(seconds):
        return UNKNOWN
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
