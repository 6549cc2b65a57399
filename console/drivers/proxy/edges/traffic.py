"""Every edge's per-colour counters added up: the traffic analysis judges what all clients got.

An edge that does not answer leaves the sum smaller for that reading; the traffic window takes a
counter that went down as a restart, so no rate is made up across it.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.core.measures.traffic import ColourCounters, TrafficSnapshot
from console.core.model import Color

_SUMMED = (
    "requests",
    "status_2xx",
    "status_3xx",
    "status_4xx",
    "status_5xx",
    "upstream_us",
    "timed",
)


def merged(snapshots: Sequence[TrafficSnapshot]) -> TrafficSnapshot:
    """One snapshot with every edge's counters summed per colour (gauges too, when all have
    them; HAProxy's mean is the largest edge's, its maximum the largest)."""
    colours: dict[Color, ColourCounters] = {}
    for snapshot in snapshots:
        for color, counters in snapshot.colours.items():
            before = colours.get(color)
            colours[color] = counters if before is None else _add(before, counters)
    notes = sorted({s.note for s in snapshots if s.note})
    return TrafficSnapshot(
        at=max(s.at for s in snapshots),
        colours=colours,
        has_percentiles=all(s.has_percentiles for s in snapshots),
        note=" ".join(notes),
    )


def _add(a: ColourCounters, b: ColourCounters) -> ColourCounters:
    sums = {name: getattr(a, name) + getattr(b, name) for name in _SUMMED}
    buckets = (
        tuple(x + y for x, y in zip(a.buckets, b.buckets, strict=True))
        if a.buckets and len(a.buckets) == len(b.buckets)
        else ()
    )
    return ColourCounters(
        **sums,
        buckets=buckets,
        open_requests=_gauge(a.open_requests, b.open_requests),
        websockets=_gauge(a.websockets, b.websockets),
        recent_mean_ms=_largest(a.recent_mean_ms, b.recent_mean_ms),
        max_ms=_largest(a.max_ms, b.max_ms),
    )


def _gauge(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _largest(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None
