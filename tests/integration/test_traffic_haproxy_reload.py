"""Traffic figures where live-mode nginx is not the proxy: HAProxy's `show stat`, and nginx in
reload mode (the Lua counters where the module is loaded, a plain sentence where it is not).
Each gets the same known request mix as tests/integration/test_nginx_traffic.py, through a real
proxy, and a websocket that must be counted while open and released when it closes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.core.config.proxy import HaproxyProxyConfig
from console.core.measures.traffic import (
    ColourCounters,
    TrafficSnapshot,
    TrafficWindow,
    traffic_text,
)
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.haproxy.traffic import NO_PERCENTILES_NOTE
from console.drivers.proxy.nginx.driver import NginxDriver
from console.drivers.proxy.nginx.traffic import NO_LUA_MARKER, NO_LUA_NOTE
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.nginx_proc import NginxProcess
from tests import ports
from tests.integration.proxy_helpers import (
    MIX_TOTAL,
    N_FAIL,
    N_OK,
    N_SLOW,
    SLOW_MS,
    bucket_ceiling,
    free_ports,
    fronted_nginx,
    make_config,
    open_websocket,
    send_mix,
    traffic_quiet,
    traffic_settled,
    upstreams,
)

pytestmark = pytest.mark.integration

PORT_RANGE = ports.TRAFFIC_HAPROXY_RELOAD

TOTAL = MIX_TOTAL


def wait_for(read: Callable[[], ColourCounters], ok: Callable[[ColourCounters], bool]) -> bool:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if ok(read()):
            return True
        time.sleep(0.05)
    return False


# ── HAProxy ──────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[tuple[HaproxyProcess, HaproxyDriver]]:
    with upstreams(PORT_RANGE) as (blue, green):
        (listen,) = free_ports(PORT_RANGE, 1, avoid=(blue, green))
        proc = HaproxyProcess(tmp_path / "haproxy", listen, tmp_path / "admin.sock")
        proxy = HaproxyProxyConfig(
            include_dir=str(tmp_path / "haproxy" / "bluegreen"),
            proxy_url=f"http://127.0.0.1:{listen}",
            admin_socket=str(proc.admin_socket),
            backend="bluegreen",
            verify_timeout_seconds=3.0,
        )
        driver = HaproxyDriver(make_config(tmp_path, blue, green, proxy))
        proc.write_conf(driver.backend_section(), driver.backend)
        try:
            proc.start()
            driver.install("blue")
            yield proc, driver
        finally:
            proc.stop()


def test_haproxy_counters_match_a_known_request_mix(
    haproxy: tuple[HaproxyProcess, HaproxyDriver],
) -> None:
    proc, driver = haproxy
    before = driver.traffic()
    assert before is not None and not before.has_percentiles
    send_mix(proc.listen_port)
    old = before.colours["blue"]
    after = traffic_settled(driver, "blue", lambda c: c.requests - old.requests >= TOTAL)
    blue = after.colours["blue"]
    assert blue.requests - old.requests == TOTAL
    assert blue.status_5xx - old.status_5xx == N_FAIL
    assert blue.status_2xx - old.status_2xx == N_OK + N_SLOW
    assert after.colours["green"].requests == 0
    assert blue.open_requests == 0 and blue.websockets is None  # HAProxy cannot tell ws apart
    window = TrafficWindow(seconds=30)
    window.add(before)
    window.add(TrafficSnapshot(before.at + 10, after.colours, False, after.note))
    figures = window.figures("blue")
    assert figures is not None
    assert figures.error_rate == pytest.approx(N_FAIL / TOTAL)
    assert figures.rps == pytest.approx(TOTAL / 10)
    assert figures.p50_ms is None and figures.p99_ms is None
    # rtime: HAProxy's mean over its last 1024 requests (all of them here, plus the install's
    # own probe); rtime_max: the slow endpoint's delay. Both in whole ms.
    expected_mean = N_SLOW * SLOW_MS / (TOTAL + old.requests)
    assert figures.mean_ms is not None and abs(figures.mean_ms - expected_mean) <= 3
    assert figures.max_ms is not None and SLOW_MS <= figures.max_ms <= SLOW_MS + 30
    assert NO_PERCENTILES_NOTE in traffic_text(figures)


def test_haproxy_counts_an_open_websocket_as_a_session_until_it_closes(
    haproxy: tuple[HaproxyProcess, HaproxyDriver],
) -> None:
    proc, driver = haproxy

    def blue() -> ColourCounters:
        snapshot = driver.traffic()
        assert snapshot is not None
        return snapshot.colours["blue"]

    with contextlib.closing(open_websocket(proc.listen_port)):
        assert wait_for(blue, lambda c: c.open_requests == 1), blue()
    assert wait_for(blue, lambda c: c.open_requests == 0), blue()


# ── nginx, reload mode ───────────────────────────────────────────────────────────────────────


@pytest.fixture
def reload_lua(tmp_path: Path) -> Iterator[tuple[NginxProcess, NginxDriver]]:
    with fronted_nginx(tmp_path, PORT_RANGE, "reload") as pair:
        yield pair


@pytest.fixture
def reload_plain(tmp_path: Path) -> Iterator[tuple[NginxProcess, NginxDriver]]:
    with fronted_nginx(tmp_path, PORT_RANGE, "reload", lua=False) as pair:
        yield pair


def test_reload_mode_counts_a_known_request_mix_across_a_switch(
    reload_lua: tuple[NginxProcess, NginxDriver],
) -> None:
    nginx, driver = reload_lua
    assert driver.counting()
    before = driver.traffic()
    assert before is not None
    seen = sorted(send_mix(nginx.listen_port))
    old = before.colours.get("blue") or ColourCounters()
    middle = traffic_settled(driver, "blue", lambda c: c.requests - old.requests >= TOTAL)
    blue = middle.colours["blue"]
    assert blue.requests - old.requests == TOTAL
    assert blue.status_5xx - old.status_5xx == N_FAIL
    assert blue.open_requests == 0 and blue.websockets == 0
    window = TrafficWindow(seconds=30)
    window.add(before)
    window.add(TrafficSnapshot(before.at + 10, middle.colours))
    figures = window.figures("blue")
    assert figures is not None and figures.error_rate == pytest.approx(N_FAIL / TOTAL)
    # The slow answers put the p99 above 100 ms; no answer the proxy timed was longer than the
    # client saw it, so neither figure lies above the bucket of the client's own time.
    assert figures.p99_ms is not None
    assert SLOW_MS * 0.8 <= figures.p99_ms <= bucket_ceiling(seen[-1])
    assert figures.p50_ms is not None and figures.p50_ms <= bucket_ceiling(seen[len(seen) // 2])
    # A reload-mode switch: the counters live in shared memory and survive the reload. (The
    # switch's own probes land on blue until the new workers answer, and on green after.)
    driver.switch("green")
    switched = traffic_quiet(driver)  # the switch's own probes counted, wherever they went
    assert switched.colours["blue"].requests >= blue.requests
    send_mix(nginx.listen_port)
    green_before = switched.colours["green"]
    after = traffic_settled(driver, "green", lambda c: c.requests - green_before.requests >= TOTAL)
    assert after.colours["blue"].requests == switched.colours["blue"].requests  # none to blue
    green = after.colours["green"]
    assert green.requests - green_before.requests == TOTAL
    assert green.status_5xx - green_before.status_5xx == N_FAIL


def test_reload_mode_counts_websockets_and_releases_them(
    reload_lua: tuple[NginxProcess, NginxDriver],
) -> None:
    nginx, driver = reload_lua

    def blue() -> ColourCounters:
        snapshot = driver.traffic()
        assert snapshot is not None
        return snapshot.colours.get("blue") or ColourCounters()

    with contextlib.closing(open_websocket(nginx.listen_port)):
        assert wait_for(blue, lambda c: c.websockets == 1 and c.open_requests == 1), blue()
    assert wait_for(blue, lambda c: c.websockets == 0 and c.open_requests == 0), blue()


def test_reload_mode_without_the_lua_module_says_so(
    reload_plain: tuple[NginxProcess, NginxDriver],
) -> None:
    nginx, driver = reload_plain
    assert not driver.counting()
    assert NO_LUA_MARKER in driver.http_path.read_text()
    assert driver.check() == []  # the rendering without Lua is what bluegreen expects there
    send_mix(nginx.listen_port)  # the proxy serves as before
    window = TrafficWindow()
    snapshot = driver.traffic()
    assert snapshot is not None
    window.add(snapshot)
    figures = window.figures("blue")
    assert figures is not None and figures.rps is None and figures.note == NO_LUA_NOTE
    assert traffic_text(figures) == f"traffic — {NO_LUA_NOTE}"
