"""Preview and canary routes on a real nginx (live and reload mode) and a real HAProxy.

Each proxy fronts the dummy upstreams with blue live and `[proxy] preview = true`. A "client" is
a distinct `bluegreen_canary` cookie value (or, without one, a distinct 127.0.0.x source
address): the canary must send its share of distinct clients to the idle colour, and the same
client to the same colour on every request.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.agent.loop import live_colour_watch
from console.core.contracts.offers import offers
from console.core.contracts.proxy import QuickReadBack
from console.core.installation import Installation
from console.core.model import Actor, Canary, Outcome, SlotState, SlotStatus
from console.core.ops import canary
from console.drivers.proxy import DRIVERS
from console.wiring import open_installation
from tests import ports
from tests.integration.proxy_helpers import by_cookie, free_ports, served, upstreams
from tests.integration.proxy_world import Fronted, fronted_proxy

pytestmark = pytest.mark.integration

PORT_RANGE = ports.PROXY_ROUTES
CLIENTS = 1000


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as ports:
        yield ports


@pytest.fixture(params=sorted(DRIVERS))
def fronted(
    request: pytest.FixtureRequest, tmp_path: Path, upstream_ports: tuple[int, int]
) -> Iterator[Fronted]:
    """The proxy of one DRIVERS row, blue live, with `[proxy] preview = true`."""
    (listen,) = free_ports(PORT_RANGE, 1, avoid=upstream_ports)
    sock_dir = Path(tempfile.mkdtemp(prefix="bg-routes-"))
    try:
        with fronted_proxy(
            request.param, tmp_path, listen, sock_dir, upstream_ports, preview=True
        ) as world:
            yield world
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def by_address(fronted: Fronted, hosts: range) -> dict[int, str]:
    seen = {}
    for host in hosts:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{host}")
        with httpx.Client(transport=transport, trust_env=False, timeout=5) as client:
            seen[host] = served(client, fronted.url)
    return seen


def test_preview_header_and_cookie_reach_the_named_colour_and_nothing_else_does(
    fronted: Fronted,
) -> None:
    url = fronted.url
    with httpx.Client(trust_env=False, timeout=5) as client:
        assert {served(client, url) for _ in range(30)} == {"blue"}
        assert served(client, url, {"X-Bluegreen-Preview": "green"}) == "green"
        assert served(client, url, {"Cookie": "bluegreen_preview=green"}) == "green"
        assert served(client, url, {"X-Bluegreen-Preview": "blue"}) == "blue"
        # Anything else is no preview: the live colour serves.
        assert served(client, url, {"X-Bluegreen-Preview": "purple"}) == "blue"
        assert served(client, url, {"Cookie": "bluegreen_preview=GREEN; other=green"}) == "blue"
        assert served(client, url, {"X-Other": "green"}) == "blue"
        assert {served(client, url) for _ in range(30)} == {"blue"}
    seen = fronted.driver.read_back()
    assert seen.color == "blue" and seen.canary is None  # a preview changes no routing


def test_preview_requests_are_counted_under_the_colour_that_served_them(
    fronted: Fronted,
) -> None:
    before = fronted.driver.traffic()
    if before is None:
        pytest.skip(f"{fronted.driver.name} has no per-colour counters")
    with httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(7):
            assert served(client, fronted.url, {"X-Bluegreen-Preview": "green"}) == "green"
        for _ in range(5):
            assert served(client, fronted.url) == "blue"
    after = fronted.driver.traffic()
    assert after is not None

    def requests(snapshot: object, color: str) -> int:
        colours = getattr(snapshot, "colours", {})
        return colours[color].requests if color in colours else 0

    assert requests(after, "green") - requests(before, "green") == 7
    assert requests(after, "blue") - requests(before, "blue") == 5


def test_a_canary_sends_its_share_of_distinct_clients_each_always_to_the_same_colour(
    fronted: Fronted,
) -> None:
    driver = fronted.driver
    driver.set_canary(Canary("green", 10))
    assert driver.read_back().canary == Canary("green", 10)
    assert driver.persisted_canary() == Canary("green", 10)
    first = by_cookie(fronted.url, range(CLIENTS))
    share = sum(1 for color in first.values() if color == "green") / CLIENTS
    assert 0.07 <= share <= 0.13, f"{share:.1%} of distinct clients went to green"
    print(f"\n{fronted.driver.name}: canary 10 % → {share:.1%} of {CLIENTS} distinct clients")
    assert set(first.values()) == {"blue", "green"}
    again = by_cookie(fronted.url, range(0, CLIENTS, 4))  # each client, asked again
    assert all(again[i] == first[i] for i in again)
    # Without the cookie the client address decides, and sticks too (half, to see both sides).
    driver.set_canary(Canary("green", 50))
    addresses = by_address(fronted, range(2, 42))
    assert set(addresses.values()) == {"blue", "green"}
    assert by_address(fronted, range(2, 42)) == addresses
    # Raising the share only adds clients: everyone on green at 10 % stays there at 50 %.
    at_half = by_cookie(fronted.url, range(CLIENTS))
    assert all(at_half[i] == "green" for i, color in first.items() if color == "green")
    # A preview still wins over the canary.
    with httpx.Client(trust_env=False, timeout=5) as client:
        green_client = next(i for i, color in at_half.items() if color == "green")
        cookie = f"bluegreen_canary=client-{green_client}; bluegreen_preview=blue"
        assert served(client, fronted.url, {"Cookie": cookie}) == "blue"


def _installation(fronted: Fronted) -> Installation:
    """The core over this real proxy: a real store and lock; both colours' status as published
    by an agent (green ready), as the gate needs."""
    inst = open_installation(fronted.config)
    inst.__dict__["proxy"] = fronted.driver
    inst.store.set_live("blue", None)
    _publish(inst)
    return inst


def _publish(inst: Installation) -> None:
    """Both colours' status as an agent publishes it each second (green ready): the gate only
    believes a fresh one, and a loaded machine can take longer than its window between steps."""
    for color, state in (("blue", SlotState.LIVE), ("green", SlotState.READY)):
        inst.store.put_slot_status(
            SlotStatus(
                color,  # type: ignore[arg-type]
                state=state,
                container_state="running",
                ready=True,
                version="v2" if color == "green" else "v1",
                updated_at=time.time(),
            )
        )


def _outcome(events: Iterator[object]) -> Outcome:
    return [e for e in events if isinstance(e, Outcome)][-1]


def test_the_core_operations_audit_and_a_weight_moved_outside_bluegreen_is_drift(
    fronted: Fronted,
) -> None:
    inst = _installation(fronted)
    try:
        assert _outcome(canary.start(inst, Actor("alice"), 10)).ok
        assert inst.store.canary() == Canary("green", 10) == fronted.driver.read_back().canary
        # Someone with access to the proxy moves the weight behind bluegreen's back.
        fronted.driver.set_canary(Canary("green", 40))
        watch = live_colour_watch(inst, stale_after=3.0, log=lambda line: None)  # as the agent
        quick = fronted.driver if offers(fronted.driver, QuickReadBack) else None  # type: ignore[type-abstract]
        assert (quick is not None) == (fronted.row == "nginx-live")
        try:
            if quick is not None:  # read on the agent's thread: a drift goes to the sampler's
                assert watch._agrees(quick) == (False, None)
            watch._observe()  # the agent's per-tick proxy read
            if quick is not None:  # fixed: the next tick's read answers on the agent's thread
                assert watch._agrees(quick) == (True, "blue")
        finally:
            watch.close()
        assert inst.store.canary() == Canary("green", 40)
        drift = [e for e in inst.store.events() if e.kind == "drift"]
        assert any("canary weight changed outside bluegreen" in e.text for e in drift)
        assert drift[-1].actor == "agent"
        share = sum(1 for c in by_cookie(fronted.url, range(CLIENTS)).values() if c == "green")
        assert 0.35 <= share / CLIENTS <= 0.45
        assert _outcome(canary.abort(inst, Actor("alice"))).ok  # → 0 %
        assert inst.store.canary() is None and fronted.driver.read_back().canary is None
        assert set(by_cookie(fronted.url, range(200)).values()) == {"blue"}
        _publish(inst)
        assert _outcome(canary.start(inst, Actor("alice"), 10)).ok
        _publish(inst)
        assert _outcome(canary.promote(inst, Actor("alice"))).ok  # → switched
        assert inst.store.live() == "green" and inst.store.canary() is None
        assert set(by_cookie(fronted.url, range(200)).values()) == {"green"}
        kinds = [e.kind for e in inst.store.events()]
        assert kinds.count("canary") == 3 and "switch" in kinds
    finally:
        inst.close()
