"""Two services behind ONE real proxy — one nginx (live, reload) or one HAProxy, each row of
console.drivers.proxy.DRIVERS — with their own include dirs, names and admin sockets: a switch,
canary, drain or reload of service a never moves b's traffic, and each service's counters count
only its own requests (issue 23, point 5). The world: fleet_world.py.
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

from console.core.contracts.proxy import COLOR_HEADER
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import Canary, Color
from console.drivers.proxy import DRIVERS
from tests import ports
from tests.integration.fleet_world import Service, SharedProxy, shared_proxy
from tests.integration.proxy_helpers import (
    by_cookie,
    free_ports,
    open_websocket,
    traffic_settled,
    upstreams,
)

pytestmark = pytest.mark.integration

PORT_RANGE = ports.PROXY_FLEET


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[dict[str, tuple[int, int]]]:
    candidates = list(PORT_RANGE)
    with upstreams(candidates[:10]) as a, upstreams(candidates[10:20]) as b:
        yield {"a": a, "b": b}


@pytest.fixture(scope="module", params=sorted(DRIVERS))
def row(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def proxy(
    row: str, tmp_path: Path, upstream_ports: dict[str, tuple[int, int]]
) -> Iterator[SharedProxy]:
    """Services a (blue live) and b (green live) behind one proxy of `row`."""
    sock_dir = Path(tempfile.mkdtemp(prefix="bg-fleet-"))  # unix socket paths are ≤ 107 bytes
    taken = [p for pair in upstream_ports.values() for p in pair]
    (listen,) = free_ports(PORT_RANGE[20:], 1, avoid=taken)
    try:
        live: dict[str, Color] = {"a": "blue", "b": "green"}
        with shared_proxy(row, tmp_path, listen, sock_dir, upstream_ports, live) as world:
            yield world
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def colours(service: Service, count: int = 6) -> set[str]:
    """The colours that answered `count` fresh GETs of the service through the shared proxy."""
    seen = set()
    for _ in range(count):
        with httpx.Client(trust_env=False, timeout=5) as client:
            response = client.get(f"{service.url}/health")
        assert response.status_code == 200, response.text
        seen.add(response.headers.get(COLOR_HEADER, ""))
    return seen


def requests(snapshot: TrafficSnapshot) -> dict[str, int]:
    return {colour: counters.requests for colour, counters in snapshot.colours.items()}


def quiet(service: Service) -> TrafficSnapshot:
    """The service's counters once nothing is still on its way in (per-worker flushes)."""
    time.sleep(0.3)
    snapshot = service.driver.traffic()
    assert snapshot is not None
    return snapshot


def test_each_service_is_installed_on_its_own_colour(proxy: SharedProxy) -> None:
    a, b = proxy["a"], proxy["b"]
    assert colours(a) == {"blue"} and colours(b) == {"green"}
    assert a.driver.read_back().color == "blue" and b.driver.read_back().color == "green"
    assert a.driver.check() == [] and b.driver.check() == []


def test_routing_by_host_name_reaches_each_service(proxy: SharedProxy) -> None:
    """The snippet's other routing: one server { } (or use_backend) per service's host name."""
    url = f"http://127.0.0.1:{proxy.process.listen_port}/health"
    with httpx.Client(trust_env=False, timeout=5) as client:
        for name, colour in (("a", "blue"), ("b", "green")):
            response = client.get(url, headers={"Host": f"{name}.example.com"})
            assert response.status_code == 200 and response.headers[COLOR_HEADER] == colour
        proxy["a"].driver.switch("green")
        response = client.get(url, headers={"Host": "a.example.com"})
        assert response.headers[COLOR_HEADER] == "green"
        proxy["b"].driver.switch("blue")
        response = client.get(url, headers={"Host": "b.example.com"})
        assert response.headers[COLOR_HEADER] == "blue"


def test_a_switch_of_one_service_never_moves_the_other(proxy: SharedProxy) -> None:
    a, b = proxy["a"], proxy["b"]
    before = quiet(b)
    for to in ("green", "blue", "green"):
        assert a.driver.switch(to).verified  # its probe goes through a's own prefix
        assert colours(a) == {to}
        assert b.driver.persisted() == "green"
    # b's counters saw none of a's switches, probes or requests (reload mode reads b back
    # through b's own prefix, which b counts: so only after this).
    assert requests(quiet(b)) == requests(before)
    assert b.driver.read_back().color == "green"
    assert colours(b) == {"green"}
    assert b.driver.check() == []


def test_each_service_counts_only_its_own_requests(proxy: SharedProxy) -> None:
    a, b = proxy["a"], proxy["b"]
    a_before, b_before = requests(quiet(a)), requests(quiet(b))
    assert colours(a, 7) == {"blue"} and colours(b, 4) == {"green"}
    a_after = requests(traffic_settled(a.driver, "blue", lambda c: c.requests >= 7))
    b_after = requests(traffic_settled(b.driver, "green", lambda c: c.requests >= 4))
    assert a_after.get("blue", 0) - a_before.get("blue", 0) == 7
    assert a_after.get("green", 0) == a_before.get("green", 0)
    assert b_after.get("green", 0) - b_before.get("green", 0) == 4
    assert b_after.get("blue", 0) == b_before.get("blue", 0)


def test_a_canary_of_one_service_never_reaches_the_other(proxy: SharedProxy) -> None:
    a, b = proxy["a"], proxy["b"]
    b.driver.switch("blue")  # both on blue: a canary to green on a must stay a's
    a.driver.set_canary(Canary("green", 30))
    assert "green" in by_cookie(a.url, range(100)).values()
    assert set(by_cookie(b.url, range(100)).values()) == {"blue"}
    assert b.driver.read_back().canary is None and b.driver.persisted_canary() is None
    a.driver.set_canary(None)
    assert set(by_cookie(a.url, range(100)).values()) == {"blue"}


def test_one_services_open_connections_never_hold_anothers_drain(proxy: SharedProxy) -> None:
    """After a's switch its old colour drains to 0 open even while b holds a websocket on the
    colour a just left; b's count shows it."""
    a, b = proxy["a"], proxy["b"]
    b.driver.switch("blue")
    listen = proxy.process.listen_port
    socket = open_websocket(listen, "/b/ws")
    try:
        a.driver.switch("green")
        a_old = traffic_settled(a.driver, "blue", lambda c: c.open_requests == 0).colours
        b_now = traffic_settled(b.driver, "blue", lambda c: c.open_requests == 1).colours
        assert "blue" not in a_old or a_old["blue"].open_requests == 0
        assert b_now["blue"].open_requests == 1
    finally:
        socket.close()


def test_a_reload_of_the_shared_nginx_keeps_each_service_on_its_colour(
    proxy: SharedProxy,
) -> None:
    if proxy.row == "haproxy":
        pytest.skip("HAProxy is switched through its runtime API, never reloaded")
    a, b = proxy["a"], proxy["b"]
    a.driver.switch("green")
    a.driver.set_canary(Canary("blue", 20))
    before = requests(quiet(b))
    proxy.reload()  # what `proxy install` of a does when a's files changed
    time.sleep(0.5)  # `nginx -s reload` returns before the new workers take requests
    assert colours(b) == {"green"}
    after = requests(quiet(b))  # b's counters live through the reload and saw only b's GETs
    assert after.get("green", 0) - before.get("green", 0) == 6
    assert after.get("blue", 0) == before.get("blue", 0)
    seen_a, seen_b = a.driver.read_back(), b.driver.read_back()
    assert seen_a.color == "green" and seen_a.canary == Canary("blue", 20)
    assert seen_b.color == "green" and seen_b.canary is None


def test_switching_one_service_under_load_never_fails_or_moves_the_other(
    proxy: SharedProxy,
) -> None:
    if proxy.row == "nginx-reload":
        pytest.skip("a reload drops idle keep-alive connections by design (FACTS.md)")
    a, b = proxy["a"], proxy["b"]
    stop = threading.Event()
    failures: dict[str, list[str]] = {"a": [], "b": []}
    served: dict[str, dict[str, int]] = {"a": {}, "b": {}}
    lock = threading.Lock()

    def client_loop(service: Service) -> None:
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while not stop.is_set():
                try:
                    response = client.post(f"{service.url}/graphql", json={"query": "{ ok }"})
                except httpx.HTTPError as exc:
                    with lock:
                        failures[service.name].append(type(exc).__name__)
                    continue
                with lock:
                    if response.status_code != 200:
                        failures[service.name].append(str(response.status_code))
                    colour = response.headers.get(COLOR_HEADER, "")
                    served[service.name][colour] = served[service.name].get(colour, 0) + 1

    threads = [threading.Thread(target=client_loop, args=(s,)) for s in (a, a, b, b)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        for index in range(10):
            assert a.driver.switch("green" if index % 2 == 0 else "blue").verified
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failures == {"a": [], "b": []}
    assert served["a"].get("blue", 0) > 20 and served["a"].get("green", 0) > 20, served
    assert set(served["b"]) == {"green"} and served["b"]["green"] > 50, served
