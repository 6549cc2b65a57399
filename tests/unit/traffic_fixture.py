"""Traffic for the exporter's tests: the proxy's raw counters of both colours and the window
figures the agent derived from them (blue serving, green just switched to and failing a bit)."""

from __future__ import annotations

from dataclasses import replace

from console.agent.metrics import Published
from console.core.measures.traffic import (
    LATENCY_BOUNDS_MS,
    ColourCounters,
    TrafficFigures,
    TrafficSnapshot,
)

NOW = 1_800_000_000.0


def _buckets(**by_bound_ms: int) -> tuple[int, ...]:
    """Per-bucket counts (not cumulative), as the proxy keeps them; key `le_inf` = the rest."""
    counts = [by_bound_ms.get(f"le{bound:g}", 0) for bound in LATENCY_BOUNDS_MS]
    return (*counts, by_bound_ms.get("le_inf", 0))


BLUE = ColourCounters(
    requests=1200, status_2xx=1150, status_3xx=10, status_4xx=30, status_5xx=10,
    upstream_us=6_000_000, timed=1190, buckets=_buckets(le5=1000, le10=150, le100=39, le_inf=1),
    open_requests=4, websockets=2,
)  # fmt: skip
GREEN = ColourCounters(
    requests=100, status_2xx=90, status_5xx=10, upstream_us=2_500_000, timed=100,
    buckets=_buckets(le10=60, le50=30, le1000=10), open_requests=1, websockets=0,
)  # fmt: skip
SNAPSHOT = TrafficSnapshot(NOW - 1, {"blue": BLUE, "green": GREEN})
FIGURES = {
    "blue": TrafficFigures(rps=40.0, error_rate=0.01, p50_ms=4.0, p99_ms=90.0, open_connections=4,
                           websockets=2, requests_total=1200),
    "green": TrafficFigures(rps=3.3, error_rate=0.1, p50_ms=8.5, p99_ms=950.0, open_connections=1,
                            websockets=0, requests_total=100),
}  # fmt: skip


def with_traffic(published: Published) -> Published:
    """`published` as a tick with the traffic reading above would leave it."""
    statuses = {c: replace(s, traffic=FIGURES[c]) for c, s in published.statuses.items()}
    published.tick_done(statuses, published.live, published.tick_seconds or 0.0)
    published.traffic_read(SNAPSHOT)
    return published
