"""The HAProxy driver against a real private HAProxy 2.6 and dummy upstreams."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.core.config.schema import Config, ProxyConfig
from console.drivers.proxy import ProxyError, make_proxy
from console.drivers.proxy.haproxy.driver import STATE_FILE, HaproxyDriver
from console.sandbox.haproxy_proc import HaproxyProcess
from tests import ports
from tests.integration.proxy_helpers import free_ports, make_config, upstreams

pytestmark = pytest.mark.integration

PORT_RANGE = ports.HAPROXY


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as ports:
        yield ports


class FrontedHaproxy(HaproxyProcess):
    """The private HAProxy plus the dummy upstreams' ports it fronts."""

    upstream_ports: tuple[int, int]


@pytest.fixture
def proc(tmp_path: Path, upstream_ports: tuple[int, int]) -> Iterator[FrontedHaproxy]:
    (listen,) = free_ports(PORT_RANGE, 1, avoid=upstream_ports)
    haproxy = FrontedHaproxy(tmp_path / "haproxy", listen, tmp_path / "admin.sock")
    haproxy.upstream_ports = upstream_ports
    yield haproxy
    haproxy.stop()


def config_for(proc: FrontedHaproxy, socket_path: Path | None = None) -> Config:
    blue, green = proc.upstream_ports
    proxy = ProxyConfig(
        kind="haproxy",
        include_dir=str(proc.prefix_dir / "bluegreen"),
        proxy_url=f"http://127.0.0.1:{proc.listen_port}",
        admin_socket=str(socket_path or proc.admin_socket),
        backend="bluegreen",
        verify_timeout_seconds=3.0,
    )
    return make_config(proc.prefix_dir.parent, blue, green, proxy)


def start(proc: HaproxyProcess, driver: HaproxyDriver) -> None:
    """Write haproxy.cfg with the backend the driver renders for operators, and start it."""
    proc.write_conf(driver.backend_section(), driver.backend)
    proc.start()


def started(proc: FrontedHaproxy) -> HaproxyDriver:
    driver = HaproxyDriver(config_for(proc))
    start(proc, driver)
    driver.install("blue")
    return driver


def served_by(proc: HaproxyProcess, method: str = "GET") -> str | None:
    proxy = f"http://127.0.0.1:{proc.listen_port}"
    with httpx.Client(trust_env=False) as client:
        if method == "POST":
            response = client.post(f"{proxy}/graphql", json={"query": "{ ok }"})
        else:
            response = client.get(f"{proxy}/health")
    assert response.status_code == 200
    color: str | None = response.headers.get("X-Bluegreen-Color")
    return color


def test_make_proxy_picks_haproxy(proc: FrontedHaproxy) -> None:
    assert isinstance(make_proxy(config_for(proc)), HaproxyDriver)


def test_install_routes_to_blue(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    assert served_by(proc, "GET") == "blue"
    assert served_by(proc, "POST") == "blue"
    assert driver.current() == "blue"
    assert driver.persisted() == "blue"
    assert driver.check() == []


def test_switch_is_fast_and_does_not_reload(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    pids = (proc.master_pid(), proc.worker_pids())
    result = driver.switch("green")
    assert result.verified and result.cutover_ms > 0  # the figure itself: bench/switch_under_load
    assert served_by(proc, "POST") == "green"
    assert driver.current() == "green"
    assert driver.persisted() == "green"
    assert (proc.master_pid(), proc.worker_pids()) == pids
    assert driver.check() == []


def test_restart_comes_back_on_the_persisted_colour(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    driver.switch("green")
    proc.stop()
    start(proc, driver)  # the rendered backend marks blue `disabled`: no mixed routing
    assert driver.current() == "green"
    assert {served_by(proc) for _ in range(6)} == {"green"}


def test_restart_with_a_stale_config_is_reconciled_by_install(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    proc.stop()
    # A switch to green was persisted, but haproxy.cfg (rendered earlier) still says blue.
    driver.state_path.write_text("green\n")
    proc.start()
    assert driver.current() == "blue"
    assert any("says green" in problem for problem in driver.check())
    driver.install(driver.persisted() or "blue")
    assert driver.current() == "green"
    assert served_by(proc) == "green"


def test_unreachable_socket_fails_and_changes_nothing(proc: FrontedHaproxy) -> None:
    started(proc)
    before = (proc.prefix_dir / "bluegreen" / STATE_FILE).read_bytes()
    broken = HaproxyDriver(config_for(proc, socket_path=proc.prefix_dir / "missing.sock"))
    with pytest.raises(ProxyError, match="Cannot reach the HAProxy runtime API"):
        broken.switch("green")
    assert (proc.prefix_dir / "bluegreen" / STATE_FILE).read_bytes() == before
    assert served_by(proc) == "blue"
    assert broken.current() is None
    assert any("Cannot reach" in problem for problem in broken.check())


def test_a_wrong_backend_is_reported(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    proc.stop()
    proc.write_conf(driver.backend_section().replace("server green", "server teal"))
    proc.start()
    with pytest.raises(ProxyError, match="servers named blue and green"):
        driver.switch("green")
    assert driver.persisted() == "blue"
    assert any("no server named green" in problem for problem in driver.check())


def test_no_failed_requests_under_keepalive_load_while_switching(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    proxy = f"http://127.0.0.1:{proc.listen_port}"
    stop = threading.Event()
    failures: list[str] = []
    served: dict[str, int] = {}
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while not stop.is_set():
                try:
                    response = client.post(f"{proxy}/graphql", json={"query": "{ ok }"})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(type(exc).__name__)
                    continue
                with lock:
                    if response.status_code != 200:
                        failures.append(str(response.status_code))
                    color = response.headers.get("X-Bluegreen-Color", "")
                    served[color] = served.get(color, 0) + 1

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        for index in range(20):
            driver.switch("green" if index % 2 == 0 else "blue")
            time.sleep(0.08)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failures == []
    assert served.get("blue", 0) > 50 and served.get("green", 0) > 50


def test_nothing_live_answers_503_until_the_first_switch(proc: FrontedHaproxy) -> None:
    driver = HaproxyDriver(config_for(proc))
    written = driver.write_files(None)  # what `proxy install` does before the first deploy
    assert str(driver.backend_path) in written and driver.persisted() is None
    start(proc, driver)
    driver.install(None)
    with httpx.Client(trust_env=False) as client:
        response = client.get(f"http://127.0.0.1:{proc.listen_port}/health")
    assert response.status_code == 503 and "no colour is live yet" in response.text
    assert driver.read_back().answered and driver.current() is None
    assert driver.write_files(None) == ()  # idempotent
    assert driver.switch("green").verified
    assert served_by(proc) == "green" and driver.persisted() == "green"
