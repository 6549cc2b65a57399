"""Per-colour traffic counters in a real nginx (live mode), read through the admin socket."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from console.core.measures.traffic import (
    LATENCY_BOUNDS_MS,
    ColourCounters,
    TrafficWindow,
    figures_between,
)
from console.drivers.proxy.nginx.driver import NginxDriver
from console.sandbox.nginx_proc import NginxProcess
from tests import ports
from tests.integration.proxy_helpers import (
    N_FAIL,
    N_OK,
    N_SLOW,
    SLOW_MS,
    bucket_ceiling,
    fronted_nginx,
    open_websocket,
    send_mix,
    traffic_settled,
)

pytestmark = pytest.mark.integration

PORT_RANGE = ports.NGINX_TRAFFIC


@pytest.fixture
def fronted(tmp_path: Path) -> Iterator[tuple[NginxProcess, NginxDriver]]:
    with fronted_nginx(tmp_path, PORT_RANGE, "live") as pair:
        yield pair


def test_counters_match_a_known_request_mix(fronted: tuple[NginxProcess, NginxDriver]) -> None:
    nginx, driver = fronted
    before = driver.traffic()
    assert before is not None
    seen = sorted(send_mix(nginx.listen_port))
    old = before.colours.get("blue") or ColourCounters(buckets=(0,) * (len(LATENCY_BOUNDS_MS) + 1))
    total = N_OK + N_FAIL + N_SLOW
    after = traffic_settled(
        driver, "blue", lambda c: c.requests - old.requests >= total and c.open_requests == 0
    )
    blue = after.colours["blue"]
    assert blue.requests - old.requests == total
    assert blue.status_5xx - old.status_5xx == N_FAIL
    assert "green" not in after.colours or after.colours["green"].requests == 0
    assert blue.open_requests == 0 and blue.websockets == 0  # every request was closed
    figures = figures_between(old, blue, 10.0)
    assert figures.error_rate == pytest.approx(N_FAIL / total)
    assert figures.rps == pytest.approx(total / 10.0)
    # 10 of 57 answers took ≥ 120 ms: the p99 lies in a bucket above 100 ms. No answer the
    # proxy timed was longer than the client saw it, so neither figure lies above the bucket of
    # the client's own time (a bound that holds on a loaded machine too).
    assert figures.p99_ms is not None
    assert SLOW_MS * 0.8 <= figures.p99_ms <= bucket_ceiling(seen[-1])
    assert figures.p50_ms is not None and figures.p50_ms <= bucket_ceiling(seen[len(seen) // 2])
    mean_ms = (blue.upstream_us - old.upstream_us) / 1000 / total
    assert mean_ms == pytest.approx(N_SLOW * SLOW_MS / total, rel=0.35)


def test_open_requests_and_websockets_are_gauges(
    fronted: tuple[NginxProcess, NginxDriver],
) -> None:
    """A request in flight is open until it ends; one with Upgrade also counts as a websocket.
    The dummy upstream does not upgrade: the gauge follows the request, then falls back to 0."""
    nginx, driver = fronted
    done = threading.Event()

    def slow(path: str, headers: dict[str, str]) -> None:
        with httpx.Client(trust_env=False, timeout=5) as client:
            client.get(f"http://127.0.0.1:{nginx.listen_port}{path}", headers=headers)
        done.set()

    worker = threading.Thread(target=slow, args=("/slow?ms=3000", {"Upgrade": "websocket"}))
    worker.start()
    deadline = time.monotonic() + 2.7  # inside the request's 3 s, with room for a busy machine
    seen = None
    while time.monotonic() < deadline:
        snapshot = driver.traffic()
        assert snapshot is not None
        seen = snapshot.colours.get("blue")
        if seen is not None and seen.open_requests == 1:
            break
        time.sleep(0.05)
    assert seen is not None and seen.open_requests == 1 and seen.websockets == 1
    worker.join()
    assert done.is_set()
    final = traffic_settled(driver, "blue", lambda c: c.open_requests == 0)
    assert final.colours["blue"].open_requests == 0 and final.colours["blue"].websockets == 0


def test_a_websocket_is_counted_while_open_and_released_when_it_closes(
    fronted: tuple[NginxProcess, NginxDriver],
) -> None:
    """A real upgrade (101, then bytes both ways) through the live-mode nginx."""
    nginx, driver = fronted

    def blue() -> ColourCounters:
        snapshot = driver.traffic()
        assert snapshot is not None
        return snapshot.colours.get("blue") or ColourCounters()

    def settles(ok: Callable[[ColourCounters], bool]) -> bool:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if ok(blue()):
                return True
            time.sleep(0.05)
        return False

    requests, timed = blue().requests, blue().timed
    with contextlib.closing(open_websocket(nginx.listen_port)):
        assert settles(lambda c: c.websockets == 1 and c.open_requests == 1), blue()
    assert settles(lambda c: c.websockets == 0 and c.open_requests == 0), blue()
    # Counted once, when it ended (the sum reaches the dict within the worker's 0.1 s flush).
    assert settles(lambda c: c.requests == requests + 1), blue()
    assert blue().timed == timed  # a 101's "response time" is the websocket's life: not timed


def test_a_switch_counts_the_new_colour_and_the_window_gives_rates(
    fronted: tuple[NginxProcess, NginxDriver],
) -> None:
    nginx, driver = fronted
    window = TrafficWindow(seconds=30)
    first = driver.traffic()
    assert first is not None
    window.add(first)
    driver.switch("green")
    base = f"http://127.0.0.1:{nginx.listen_port}"
    with httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(20):
            client.get(f"{base}/health")
    time.sleep(0.01)
    second = driver.traffic()
    assert second is not None
    window.add(second)
    green = window.figures("green")
    assert green is not None and green.window_requests >= 20  # + the switch's own probes
    assert green.error_rate == 0.0 and green.rps is not None and green.rps > 0


def test_the_admin_socket_is_the_only_way_in(fronted: tuple[NginxProcess, NginxDriver]) -> None:
    """The counters are not served on the public listener."""
    nginx, _ = fronted
    response = httpx.get(f"http://127.0.0.1:{nginx.listen_port}/bluegreen/traffic", trust_env=False)
    assert "counters" not in response.text
