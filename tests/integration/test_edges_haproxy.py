"""Two HAProxy edges (runtime API sockets, on loopback) switched all or none (issue 25.3). HAProxy
has no expiry on a runtime command: one sent to a SIGSTOPped HAProxy is applied when it runs
again, after the put-back gave up on it — the edge then routes to the new colour while the
intent says the old one, and the reconciler's convergence puts it back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.core.contracts.proxy import ProxyError, ReadBack
from console.core.model import Canary
from console.drivers.proxy.edges.composite import EdgeSet
from tests import ports
from tests.integration.edges_world import (
    converge_until_steady,
    haproxy_pair,
    kill,
    once_at_switch,
    pause,
    process_pids,
    resume,
    served_color,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[EdgeSet, list[Any]]]:
    with haproxy_pair(tmp_path, ports.EDGES_HAPROXY) as world:
        yield world


def colours(edges: EdgeSet) -> list[str | None]:
    return [served_color(edge.driver.client_url) for edge in edges.edges]  # type: ignore[attr-defined]


def test_a_switch_and_a_canary_change_both_haproxy_edges(pair: tuple[EdgeSet, list[Any]]) -> None:
    edges, _ = pair
    edges.set_canary(Canary("green", 30))
    assert edges.read_back() == ReadBack(True, "blue", Canary("green", 30))
    assert [e.driver.persisted_canary() for e in edges.edges] == [Canary("green", 30)] * 2
    edges.switch("green")  # ends the canary on every edge
    assert colours(edges) == ["green", "green"]
    assert edges.read_back() == ReadBack(True, "green", None)
    edges.switch("blue")
    assert colours(edges) == ["blue", "blue"]
    assert edges.read_back().color == "blue"


def test_a_killed_haproxy_mid_switch_leaves_the_other_put_back(
    pair: tuple[EdgeSet, list[Any]],
) -> None:
    edges, procs = pair
    once_at_switch(edges, 1, lambda: kill(process_pids(procs[1])))
    with pytest.raises(ProxyError) as failed:
        edges.switch("green")
    assert "The switch to green failed on edge edge-1 (127.0.0.1)" in str(failed.value)
    assert "edge default (127.0.0.1) routes to blue" in str(failed.value)
    assert colours(edges) == ["blue", None]


def test_a_hung_haproxy_applies_the_switch_late_and_is_converged_back(
    pair: tuple[EdgeSet, list[Any]],
) -> None:
    edges, procs = pair
    once_at_switch(edges, 1, lambda: pause(process_pids(procs[1])))
    with pytest.raises(ProxyError) as failed:
        edges.switch("green")
    text = str(failed.value)
    assert "failed on edge edge-1 (127.0.0.1)" in text, text
    assert "edge edge-1 (127.0.0.1) did not answer" in text, text
    assert colours(edges)[0] == "blue"
    resume(process_pids(procs[1]))
    # The queued commands (the switch, then the put-back's read) run when HAProxy does, which may
    # be after a first convergence has read it: converge the way the reconciler does, once per
    # tick, until the edges have held the intent for a second.
    converge_until_steady(edges, lambda: colours(edges), ["blue", "blue"], 15.0)
    assert edges.converge() == []
