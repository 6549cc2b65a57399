"""Pure traffic figures: counter deltas into rates and percentiles over a window."""

from __future__ import annotations

import pytest

from console.core.measures.traffic import (
    LATENCY_BOUNDS_MS,
    ColourCounters,
    TrafficSnapshot,
    TrafficWindow,
    counters_from_keys,
    figures_between,
    percentile,
)

N = len(LATENCY_BOUNDS_MS) + 1


def buckets(**at_bound: int) -> tuple[int, ...]:
    out = [0] * N
    for key, count in at_bound.items():
        bound = float(key[2:])
        out[LATENCY_BOUNDS_MS.index(bound)] = count
    return tuple(out)


def test_keys_from_nginx_become_counters() -> None:
    got = counters_from_keys(
        {"blue:req": 10, "blue:5xx": 2, "blue:2xx": 8, "blue:le100": 3, "blue:le_inf": 1,
         "blue:open": 4, "blue:ws": 1}
    )  # fmt: skip
    assert set(got) == {"blue"}
    blue = got["blue"]
    assert (blue.requests, blue.status_5xx, blue.open_requests, blue.websockets) == (10, 2, 4, 1)
    assert blue.buckets[LATENCY_BOUNDS_MS.index(100)] == 3 and blue.buckets[-1] == 1


def test_percentile_interpolates_inside_the_bucket() -> None:
    # 100 answers: 98 in (5, 7] ms, 2 in (150, 200] ms.
    b = buckets(le7=98, le200=2)
    p50 = percentile(b, 0.5)
    assert p50 is not None and 5 < p50 <= 7
    p99 = percentile(b, 0.99)
    assert p99 is not None and 150 < p99 <= 200
    assert percentile((0,) * N, 0.5) is None


def test_figures_between_two_readings() -> None:
    old = ColourCounters(requests=100, status_2xx=100, buckets=buckets(le5=100))
    new = ColourCounters(
        requests=300, status_2xx=280, status_5xx=20, buckets=buckets(le5=250, le500=50),
        open_requests=3, websockets=1,
    )  # fmt: skip
    fig = figures_between(old, new, 10.0)
    assert fig.rps == pytest.approx(20.0)
    assert fig.error_rate == pytest.approx(0.1)
    assert fig.window_requests == 200 and fig.requests_total == 300
    assert fig.p99_ms is not None and fig.p99_ms > 300
    assert (fig.open_connections, fig.websockets) == (3, 1)
    no_pct = figures_between(old, new, 10.0, has_percentiles=False)
    assert no_pct.p99_ms is None and no_pct.rps == pytest.approx(20.0)


def test_no_requests_means_no_error_rate_not_zero_failures() -> None:
    same = ColourCounters(requests=5, status_2xx=5, buckets=(0,) * N)
    fig = figures_between(same, same, 5.0)
    assert fig.rps == 0.0 and fig.error_rate is None and fig.p50_ms is None


def snap(at: float, requests: int) -> TrafficSnapshot:
    return TrafficSnapshot(
        at, {"blue": ColourCounters(requests=requests, status_2xx=requests, buckets=(0,) * N)}
    )


def test_window_keeps_only_its_span_and_survives_a_proxy_restart() -> None:
    window = TrafficWindow(seconds=10)
    for second in range(0, 31):
        window.add(snap(float(second), second * 5))
    fig = window.figures("blue")
    assert fig is not None and fig.rps == pytest.approx(5.0)
    assert 10 <= fig.window_seconds <= 11
    window.add(snap(31.0, 3))  # counters went down: nginx restarted
    fig = window.figures("blue")
    assert fig is not None and fig.rps is None and fig.requests_total == 3
    assert window.figures("green") is None


def test_status_json_and_text_carry_the_traffic_figures() -> None:
    from console.cli.render import slot_json
    from console.core.measures.traffic import TrafficFigures, traffic_text
    from console.core.model import SlotStatus
    from console.core.store.schema import slot_status_from_json, slot_status_to_json

    figures = TrafficFigures(
        rps=12.345, error_rate=0.01234, client_error_rate=0.0, p50_ms=4.2, p99_ms=88.0,
        open_connections=3, websockets=1, requests_total=999, window_requests=370,
        window_seconds=30.0,
    )  # fmt: skip
    slot = SlotStatus("green", traffic=figures)
    assert slot_status_from_json(slot_status_to_json(slot)) == slot  # the store keeps them
    assert slot_json(slot, 0.0)["traffic"] == {
        "rps": 12.35, "error_rate": 0.0123, "p50_ms": 4.2, "p99_ms": 88.0,
        "open_connections": 3, "websockets": 1, "requests_total": 999, "mean_ms": None,
        "note": None,
    }  # fmt: skip
    assert set(slot_json(SlotStatus("blue"), 0.0)["traffic"].values()) == {None}
    text = traffic_text(figures)
    assert "12.3 req/s" in text and "5xx 1.2%" in text and "p50/p99 4/88 ms" in text
    assert "3 open" in text and "1 ws" in text


def test_the_agents_traffic_sampler_feeds_the_window() -> None:
    from console.agent.samplers import sample_round
    from console.agent.traffic_watch import TrafficWatch

    readings = iter([snap(100.0, 10), snap(110.0, 60)])
    watch = TrafficWatch(lambda: next(readings), stale_after=3.0)
    try:
        for _ in range(2):
            sample_round([watch.sampler], 2.0)
            watch.update()
        fig = watch.figures("blue")
        assert fig is not None and fig.rps == pytest.approx(5.0)
        assert watch.sampler.latest().answered
    finally:
        watch.close()
