"""The proxy-driver contract (console/core/contracts/proxy.py), run against every row of
console.drivers.proxy.DRIVERS — nginx live, nginx reload, HAProxy — each a real private proxy in
front of the dummy upstreams.

What one driver alone does (nginx's admin endpoint, `nginx -t` refusing a file, HAProxy's
runtime API answers) is in test_nginx.py and test_haproxy.py; preview and canary routing per
client in test_proxy_routes.py; the traffic figures in detail in test_nginx_traffic.py and
test_traffic_haproxy_reload.py.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.core.contracts.proxy import COLOR_HEADER, NO_LIVE_TEXT, UNANSWERED, ProxyError
from console.core.model import Canary
from console.drivers.proxy import DRIVERS, make_proxy
from tests import ports
from tests.integration.proxy_helpers import (
    by_cookie,
    free_ports,
    served_by,
    traffic_settled,
    upstreams,
)
from tests.integration.proxy_world import Fronted, fronted_proxy

pytestmark = pytest.mark.integration

PORT_RANGE = ports.PROXY_CONTRACT


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as ports:
        yield ports


@pytest.fixture(scope="module", params=sorted(DRIVERS))
def row(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    made = Path(tempfile.mkdtemp(prefix="bg-contract-"))  # a unix socket path is ≤ 107 bytes
    yield made
    shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def fronted(
    row: str, tmp_path: Path, sock_dir: Path, upstream_ports: tuple[int, int]
) -> Iterator[Fronted]:
    """The proxy of `row`, blue live."""
    (listen,) = free_ports(PORT_RANGE, 1, avoid=upstream_ports)
    with fronted_proxy(row, tmp_path, listen, sock_dir, upstream_ports) as world:
        yield world


def test_the_table_builds_the_rows_driver(fronted: Fronted) -> None:
    built = make_proxy(fronted.config)
    assert type(built) is DRIVERS[fronted.row] and type(fronted.driver) is DRIVERS[fronted.row]


def test_install_routes_everything_to_blue(fronted: Fronted) -> None:
    driver = fronted.driver
    assert served_by(fronted.listen_port, "GET") == "blue"
    assert served_by(fronted.listen_port, "POST") == "blue"
    assert driver.current() == "blue"
    assert driver.persisted() == "blue"
    assert driver.read_back().color == "blue" and driver.read_back().canary is None
    assert driver.check() == []


def test_a_switch_is_verified_and_read_back(fronted: Fronted) -> None:
    driver = fronted.driver
    pids = fronted.pids()
    result = driver.switch("green")
    assert result.color == "green" and result.verified
    assert result.cutover_ms > 0  # the figure itself: bench/switch_under_load
    assert served_by(fronted.listen_port, "POST") == "green"
    assert driver.current() == "green" and driver.read_back().color == "green"
    assert driver.persisted() == "green"
    assert driver.check() == []
    if not fronted.reloads:  # switched without a reload: the same processes serve
        assert fronted.pids() == pids


def test_a_restart_comes_back_on_the_persisted_colour(fronted: Fronted) -> None:
    fronted.driver.switch("green")
    fronted.restart()  # runtime state lost: the files decide, wholly one colour
    assert {served_by(fronted.listen_port) for _ in range(6)} == {"green"}
    assert fronted.driver.current() == "green"
    assert fronted.driver.check() == []


def test_traffic_counts_what_went_through(fronted: Fronted) -> None:
    before = fronted.driver.traffic()
    assert before is not None
    old = before.colours["blue"].requests if "blue" in before.colours else 0
    for _ in range(9):
        assert served_by(fronted.listen_port) == "blue"
    after = traffic_settled(fronted.driver, "blue", lambda c: c.requests - old >= 9)
    assert after.colours["blue"].requests - old == 9
    assert "green" not in after.colours or after.colours["green"].requests == 0


def test_no_failed_requests_under_keepalive_load_while_switching(fronted: Fronted) -> None:
    if fronted.reloads:
        pytest.skip("a reload drops idle keep-alive connections by design (FACTS.md)")
    proxy = fronted.url
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
                    color = response.headers.get(COLOR_HEADER, "")
                    served[color] = served.get(color, 0) + 1

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    cutovers: list[float] = []
    try:
        time.sleep(0.2)
        for index in range(20):
            switched = fronted.driver.switch("green" if index % 2 == 0 else "blue")
            cutovers.append(switched.cutover_ms)
            time.sleep(0.08)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failures == []
    assert served.get("blue", 0) > 50 and served.get("green", 0) > 50, served
    # Four client threads share the probe's interpreter (GIL) on a 2-core host: latency figures
    # live in bench/, not here.
    assert all(c > 0 for c in cutovers), cutovers


def test_a_canary_is_applied_persisted_ended_and_promoted(fronted: Fronted) -> None:
    driver = fronted.driver
    driver.set_canary(Canary("green", 20))
    assert driver.read_back().canary == Canary("green", 20)
    assert driver.persisted_canary() == Canary("green", 20)
    assert driver.current() == "blue"  # the live colour is untouched
    assert "green" in by_cookie(fronted.url, range(200)).values()
    driver.set_canary(None)  # abort
    assert driver.read_back().canary is None and driver.persisted_canary() is None
    assert set(by_cookie(fronted.url, range(200)).values()) == {"blue"}
    driver.set_canary(Canary("green", 20))
    assert driver.switch("green").verified  # promote: the full switch ends the canary
    seen = driver.read_back()
    assert seen.color == "green" and seen.canary is None and driver.persisted_canary() is None
    assert set(by_cookie(fronted.url, range(200)).values()) == {"green"}


def test_a_canary_for_the_live_colour_is_refused(fronted: Fronted) -> None:
    with pytest.raises(ProxyError, match="A canary goes to the idle colour") as refused:
        fronted.driver.set_canary(Canary("blue", 10))
    assert refused.value.read_back is not None and refused.value.read_back.color == "blue"
    assert fronted.driver.read_back().canary is None
    assert fronted.driver.persisted_canary() is None
    assert set(by_cookie(fronted.url, range(50)).values()) == {"blue"}


def test_an_install_keeps_the_canary_it_is_given(fronted: Fronted) -> None:
    """What reconcile does when it rewrites the file for the live colour."""
    fronted.driver.install("blue", Canary("green", 15))
    assert fronted.driver.read_back().canary == Canary("green", 15)
    assert fronted.driver.persisted_canary() == Canary("green", 15)
    fronted.driver.install("blue")
    assert fronted.driver.read_back().canary is None


def test_the_canary_weight_survives_a_proxy_restart(fronted: Fronted) -> None:
    driver = fronted.driver
    driver.set_canary(Canary("green", 10))
    before = by_cookie(fronted.url, range(300))
    fronted.restart()
    if fronted.row == "haproxy":
        # HAProxy restarts with the idle server disabled (its runtime state is lost): reconcile
        # re-applies what the files record, the canary's map included.
        driver.install(driver.persisted(), driver.persisted_canary())
    assert driver.read_back().canary == Canary("green", 10)
    assert by_cookie(fronted.url, range(300)) == before


def test_a_proxy_that_is_down_is_unknown_and_a_switch_changes_nothing(fronted: Fronted) -> None:
    driver = fronted.driver
    fronted.stop()
    assert driver.read_back() == UNANSWERED  # nobody can tell: never "nothing is live"
    with pytest.raises(ProxyError) as failed:
        driver.switch("green")
    assert failed.value.read_back == UNANSWERED
    assert driver.persisted() == "blue"  # the files still say what a start would route to
    fronted.start()
    assert served_by(fronted.listen_port) == "blue"


def test_nothing_live_answers_503_until_the_first_switch(
    row: str, tmp_path: Path, sock_dir: Path, upstream_ports: tuple[int, int]
) -> None:
    (listen,) = free_ports(PORT_RANGE, 1, avoid=upstream_ports)
    with fronted_proxy(row, tmp_path, listen, sock_dir, upstream_ports, live=None) as fronted:
        driver = fronted.driver
        with httpx.Client(trust_env=False) as client:
            response = client.get(f"{fronted.url}/health")
        assert response.status_code == 503 and NO_LIVE_TEXT in response.text
        assert driver.read_back().answered and driver.current() is None
        assert driver.persisted() is None
        assert driver.write_files(None) == ()  # idempotent
        assert driver.switch("green").verified
        assert served_by(fronted.listen_port) == "green" and driver.persisted() == "green"
