"""Edges of two kinds switched all or none (issue 25.3): nginx live mode on this machine and
HAProxy on another host (a network namespace in 10.82) driven through its runtime API on TCP.
A switch and a canary change both; the HAProxy host killed, hung (SIGSTOP) or cut off (its link
down) in the middle of a switch leaves both on one colour, the message names that host, and
convergence puts it back once it returns. [sessions] across the two: the rule on both or on none,
kept sessions stay on the old colour through either edge, and the count is the sum over both
(none while one edge cannot count, so nothing is retired on a partial count)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from console.agent.retire import decide_sessions
from console.core.contracts.proxy import ProxyError, ReadBack
from console.core.contracts.sessions import KeptSessions, keeps_sessions
from console.core.measures.sessions import Migration
from console.core.model import Canary
from console.drivers.proxy.edges.sessions import DIFFERING, SessionEdgeSet
from tests.integration.edges_mixed_world import MixedWorld, mixed_world
from tests.integration.edges_world import (
    converge_until_steady,
    failed_switch,
    kill,
    pause,
    served_color,
)
from tests.integration.proxy_helpers import served, session_visitors

pytestmark = pytest.mark.integration
HOST = "edge edge-h (10.82.0.2)"
KEPT = KeptSessions("blue", "v1.4.0", "green")  # the cookie session_visitors keeps


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedWorld]:
    with mixed_world(tmp_path_factory.mktemp("mixed")) as built:
        yield built


def colours(world: MixedWorld) -> list[str | None]:
    return [served_color(url) for url in world.urls]


def test_an_nginx_and_an_haproxy_edge_switch_and_canary_together(world: MixedWorld) -> None:
    world.mend()
    assert world.edges.name == "2 edge proxies, nginx (live) and haproxy (runtime API)"
    world.edges.set_canary(Canary("green", 25))
    assert world.edges.read_back() == ReadBack(True, "blue", Canary("green", 25))
    result = world.edges.switch("green")  # ends the canary on both
    assert world.edges.read_back() == ReadBack(True, "green", None)
    assert colours(world) == ["green", "green"] and "all 2 edges" in result.detail
    world.edges.switch("blue")
    assert colours(world) == ["blue", "blue"]


FAULTS: dict[str, Callable[[MixedWorld], None]] = {
    "killed": lambda w: kill(w.haproxy.pids()),
    "hung": lambda w: pause(w.haproxy.pids()),
    "cut off": lambda w: w.host.cut(),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_haproxy_host_failing_mid_switch_puts_both_back_and_is_named(
    world: MixedWorld, fault: str
) -> None:
    world.mend()
    text = str(failed_switch(world.edges, 1, lambda: FAULTS[fault](world)))
    assert f"The switch to green failed on {HOST}" in text, text
    assert "edge default (127.0.0.1) routes to blue" in text, text
    assert served_color(world.urls[0]) == "blue"  # put back while the HAProxy host was away
    world.mend()  # the host back: link up, SIGCONT, or HAProxy started again from its files
    converge_until_steady(world.edges, lambda: colours(world), ["blue", "blue"], 20.0)
    assert world.edges.converge() == []


def test_sessions_are_kept_on_both_edges_and_counted_over_both(world: MixedWorld) -> None:
    world.mend()
    edges = world.edges
    assert isinstance(edges, SessionEdgeSet) and keeps_sessions(edges) is edges
    with httpx.Client(trust_env=False, timeout=5) as client:  # 2 sessions via nginx, 1 via HAProxy
        for url, sid in ((world.urls[0], "a"), (world.urls[0], "b"), (world.urls[1], "c")):
            served(client, url, {"Cookie": f"sid={sid}"})
    seen = edges.sessions_seen()
    assert seen is not None and seen["blue"] == 3, seen
    # The auto retirement waits while any edge has a session: the sum is what it reads.
    migration = Migration("blue", "green", "v1.4.0", time.time(), time.time() + 600, "auto", 3)
    assert not decide_sessions(time.time(), migration, seen["blue"]).stop

    edges.set_sessions(KEPT)  # blue still live: changes nothing yet
    assert edges.kept_sessions() == KEPT
    edges.switch("green")
    for url in world.urls:
        assert session_visitors(url) == {"kept": "blue", "other": "green", "none": "green"}, url
    world.nginx.stop()  # nginx restarts: its shared dict, and the rule in it, are gone
    world.nginx.start()
    assert edges.kept_sessions() == DIFFERING  # the agent's session watch sees that …
    edges.set_sessions(KEPT)  # … and re-applies the migration's rule to every edge
    for url in world.urls:
        assert session_visitors(url) == {"kept": "blue", "other": "green", "none": "green"}, url
    edges.switch("blue")  # a rollback: everyone on blue at once, through both
    for url in world.urls:
        assert session_visitors(url) == {"kept": "blue", "other": "blue", "none": "blue"}, url
    edges.set_sessions(None)
    assert edges.kept_sessions() is None


def test_the_sessions_rule_goes_to_both_edges_or_to_neither(world: MixedWorld) -> None:
    world.mend()
    edges = world.edges
    assert isinstance(edges, SessionEdgeSet)
    driver = world.haproxy_driver
    original = driver.set_sessions

    def killed_first(kept: KeptSessions | None) -> None:
        driver.set_sessions = original  # type: ignore[method-assign]
        kill(world.haproxy.pids())
        original(kept)

    driver.set_sessions = killed_first  # type: ignore[method-assign]
    with pytest.raises(ProxyError) as failed:
        edges.set_sessions(KEPT)
    text = str(failed.value)
    assert f"failed on {HOST}" in text, text
    assert "edge default (127.0.0.1) keeps no sessions rule" in text, text
    with pytest.raises(ProxyError) as uncounted:  # one edge cannot count: no sum at all
        edges.sessions_seen()
    assert HOST in str(uncounted.value)
    world.mend()  # HAProxy again from its files: no rule was persisted there either
    assert edges.kept_sessions() is None
