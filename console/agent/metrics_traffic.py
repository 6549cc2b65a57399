"""The exporter's traffic block: each colour's proxy counters, as Prometheus counters.

The proxy counts (console/core/measures/traffic.py); Prometheus computes rates. So the raw counters
of the agent's newest reading are exported as they are — requests, responses by status class,
upstream time as a histogram from the proxy's latency buckets — and `rate()` over them is exact
whatever the scrape interval. The window figures the console shows and the post-switch analysis
decides on (req/s, 5xx share, p50/p99 over the agent's window) follow as gauges, so a dashboard can
show the same numbers as `status`. A proxy restart resets its counters; Prometheus reads that as a
reset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from console.core.measures.traffic import (
    LATENCY_BOUNDS_MS,
    ColourCounters,
    TrafficFigures,
    TrafficSnapshot,
)
from console.core.model import COLORS, Color

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def traffic_families(
    snapshot: TrafficSnapshot | None, figures: Mapping[Color, TrafficFigures | None]
) -> Iterator[Metric]:
    """Every traffic family; a colour the proxy has not counted yet has no series."""
    yield from _counters(snapshot)
    yield from _window_gauges(figures)


def _counters(snapshot: TrafficSnapshot | None) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "bluegreen_slot_requests",
        "Requests the proxy sent to the colour (counted when they end).",
        labels=["color"],
    )
    responses = CounterMetricFamily(
        "bluegreen_slot_responses",
        "Responses the colour gave, by status class (the last upstream's status).",
        labels=["color", "status_class"],
    )
    duration = HistogramMetricFamily(
        "bluegreen_slot_upstream_response_seconds",
        "Upstream response time of the colour's requests (websocket upgrades left out); only the "
        "+Inf bucket where the proxy keeps no distribution.",
        labels=["color"],
    )
    open_now = GaugeMetricFamily(
        "bluegreen_slot_open_connections",
        "Requests (and websockets) the colour is serving now.",
        labels=["color"],
    )
    websockets = GaugeMetricFamily(
        "bluegreen_slot_open_websockets", "Websockets open to the colour now.", labels=["color"]
    )
    colours = snapshot.colours if snapshot is not None else {}
    for color in COLORS:
        counters = colours.get(color)
        if counters is None:
            continue
        requests.add_metric([color], float(counters.requests))
        for status_class in STATUS_CLASSES:
            count = getattr(counters, f"status_{status_class}")
            responses.add_metric([color, status_class], float(count))
        has_buckets = snapshot is not None and snapshot.has_percentiles
        duration.add_metric(
            [color], _buckets(counters, has_buckets), sum_value=counters.upstream_us / 1e6
        )
        if counters.open_requests is not None:
            open_now.add_metric([color], float(counters.open_requests))
        if counters.websockets is not None:
            websockets.add_metric([color], float(counters.websockets))
    yield from (requests, responses, duration, open_now, websockets)


def _buckets(counters: ColourCounters, has_buckets: bool) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs in seconds from the proxy's per-bucket counts."""
    if not has_buckets or len(counters.buckets) != len(LATENCY_BOUNDS_MS) + 1:
        return [("+Inf", float(counters.timed))]
    out: list[tuple[str, float]] = []
    seen = 0
    for bound_ms, count in zip(LATENCY_BOUNDS_MS, counters.buckets, strict=False):
        seen += count
        out.append((_le(bound_ms / 1000.0), float(seen)))
    out.append(("+Inf", float(seen + counters.buckets[-1])))
    return out


def _le(seconds: float) -> str:
    return repr(round(seconds, 6))


def _window_gauges(figures: Mapping[Color, TrafficFigures | None]) -> Iterator[Metric]:
    rps = GaugeMetricFamily(
        "bluegreen_slot_window_requests_per_second",
        "Requests per second over the agent's traffic window (what `status` shows).",
        labels=["color"],
    )
    errors = GaugeMetricFamily(
        "bluegreen_slot_window_error_ratio",
        "Share of the window's responses that were 5xx (0..1).",
        labels=["color"],
    )
    # Two gauges, not a `quantile` label: that label belongs to summaries (promtool says so),
    # and a window has no count/sum of its own to make one.
    latency = {
        q: GaugeMetricFamily(
            f"bluegreen_slot_window_latency_{q}_seconds",
            f"Upstream response time, {q} over the agent's window (from the proxy's buckets).",
            labels=["color"],
        )
        for q in ("p50", "p99")
    }
    for color in COLORS:
        each = figures.get(color)
        if each is None:
            continue
        if each.rps is not None:
            rps.add_metric([color], each.rps)
        if each.error_rate is not None:
            errors.add_metric([color], each.error_rate)
        for q, value in (("p50", each.p50_ms), ("p99", each.p99_ms)):
            if value is not None:
                latency[q].add_metric([color], value / 1000.0)
    yield from (rps, errors, *latency.values())
