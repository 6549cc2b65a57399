"""The exporter's traffic block: the proxy's counters as Prometheus counters and a histogram, the
agent's window figures as gauges, read back through prometheus-client's own text parser."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from console.agent.metrics import Published
from console.agent.metrics_traffic import traffic_families
from console.core.measures.traffic import TrafficSnapshot
from tests.metrics_series import Series, parse_series, series_value
from tests.unit.traffic_fixture import BLUE, FIGURES, GREEN, NOW, SNAPSHOT


class _Families(Collector):
    def __init__(self, snapshot: TrafficSnapshot | None, figures: dict) -> None:  # type: ignore[type-arg]
        self.snapshot, self.figures = snapshot, figures

    def collect(self):  # type: ignore[no-untyped-def]
        return traffic_families(self.snapshot, self.figures)


def _scrape(snapshot: TrafficSnapshot | None, figures: dict) -> tuple[str, Series]:  # type: ignore[type-arg]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(snapshot, figures))
    text = generate_latest(registry).decode()
    return text, parse_series(text)


_get = series_value


def test_counters_per_colour_and_status_class() -> None:
    _, series = _scrape(SNAPSHOT, FIGURES)
    assert _get(series, "bluegreen_slot_requests_total", color="blue") == 1200
    assert _get(series, "bluegreen_slot_requests_total", color="green") == 100
    responses = "bluegreen_slot_responses_total"
    assert _get(series, responses, color="green", status_class="5xx") == 10
    assert _get(series, responses, color="blue", status_class="4xx") == 30
    assert _get(series, responses, color="green", status_class="3xx") == 0
    assert _get(series, "bluegreen_slot_open_connections", color="blue") == 4
    assert _get(series, "bluegreen_slot_open_websockets", color="blue") == 2


def test_latency_histogram_is_cumulative_in_seconds() -> None:
    _, series = _scrape(SNAPSHOT, FIGURES)
    name = "bluegreen_slot_upstream_response_seconds"
    assert _get(series, f"{name}_bucket", color="blue", le="0.003") == 0
    assert _get(series, f"{name}_bucket", color="blue", le="0.005") == 1000
    assert _get(series, f"{name}_bucket", color="blue", le="0.01") == 1150
    assert _get(series, f"{name}_bucket", color="blue", le="10.0") == 1189
    assert _get(series, f"{name}_bucket", color="blue", le="+Inf") == 1190
    assert _get(series, f"{name}_count", color="blue") == BLUE.timed
    assert _get(series, f"{name}_sum", color="blue") == pytest.approx(6.0)
    assert _get(series, f"{name}_bucket", color="green", le="0.05") == 90
    assert _get(series, f"{name}_sum", color="green") == pytest.approx(GREEN.upstream_us / 1e6)
    buckets = [v for (n, labels), v in series.items()
               if n == f"{name}_bucket" and ("color", "green") in labels]  # fmt: skip
    assert buckets == sorted(buckets)  # never decreasing along le


def test_without_a_distribution_only_the_inf_bucket() -> None:
    flat = TrafficSnapshot(NOW, {"blue": BLUE}, has_percentiles=False)
    _, series = _scrape(flat, {})
    name = "bluegreen_slot_upstream_response_seconds"
    assert _get(series, f"{name}_bucket", color="blue", le="+Inf") == BLUE.timed
    assert _get(series, f"{name}_bucket", color="blue", le="0.005") is None
    assert _get(series, f"{name}_sum", color="blue") == pytest.approx(6.0)


def test_window_figures_as_gauges_in_base_units() -> None:
    _, series = _scrape(SNAPSHOT, FIGURES)
    assert _get(series, "bluegreen_slot_window_requests_per_second", color="blue") == 40.0
    assert _get(series, "bluegreen_slot_window_error_ratio", color="green") == 0.1
    assert _get(series, "bluegreen_slot_window_latency_p50_seconds", color="blue") == 0.004
    assert _get(series, "bluegreen_slot_window_latency_p99_seconds", color="green") == 0.95


def test_a_colour_without_traffic_has_no_series() -> None:
    text, series = _scrape(TrafficSnapshot(NOW, {"blue": BLUE}), {"blue": FIGURES["blue"]})
    assert 'color="green"' not in text
    assert _get(series, "bluegreen_slot_requests_total", color="blue") == 1200
    text, _ = _scrape(None, {})
    assert "bluegreen_slot_requests_total{" not in text  # declared, no samples


def test_a_failed_read_keeps_the_last_counters() -> None:
    published = Published()
    published.traffic_read(SNAPSHOT)
    published.traffic_read(None)
    assert published.snapshot().traffic is SNAPSHOT
