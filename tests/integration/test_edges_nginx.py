"""Two nginx live-mode edges, each on its own "host" (a network namespace in 10.80, its admin
endpoint on TCP there), switched all or none (issue 25.3): one edge killed, hung or cut off in
the middle of a switch; both end on one colour, and the message names the failed host. An edge
restarted with an old file is converged to the recorded intent by the agent's reconciler
(console/core/ops/edges.py), and the event says so."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.core.config.schema import Config
from console.core.contracts.proxy import ReadBack
from console.core.model import Actor, Canary
from console.core.ops.edges import converge_edges
from console.drivers.proxy.edges.composite import EdgeSet
from console.drivers.proxy.nginx.render import HTTP_FILE
from console.wiring import open_installation
from tests import ports
from tests.integration.edges_world import (
    NetnsNginx,
    as_more_edge,
    composite,
    edge_config,
    failed_switch,
    kill,
    netns_edge_proxy,
    pause,
    resume,
    served_color,
    standins_on,
    start_on_blue,
    wait_for,
)
from tests.netns_hosts import Hosts, hosts

pytestmark = pytest.mark.integration

BLUE, GREEN, LISTEN, ADMIN = ports.EDGES_NGINX[:4]
OPERATOR = Actor("operator", "edges-test")


@dataclass
class World:
    net: Hosts
    nginx: list[NetnsNginx]
    config: Config
    edges: EdgeSet

    def colours(self) -> list[str | None]:
        return [served_color(n.url) for n in self.nginx]

    def mend(self) -> None:
        """Every edge up, answering, and on blue again."""
        for host in self.net.members.values():
            host.mend()
        for nginx in self.nginx:
            resume(nginx.pids())
            if not nginx.pids():
                nginx.start()
        # A link just set up may still answer "No route to host" for a moment: act once every
        # edge answers.
        wait_for(
            lambda: all(r.seen.answered for r in self.edges.edge_readings()), "every edge again"
        )
        self.edges.install("blue")
        assert self.colours() == ["blue", "blue"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("edges")
    with hosts("bgedge", ["e1", "e2"], subnet=80) as net:
        standins = [standins_on(host, BLUE, GREEN) for host in net.members.values()]
        nginx = [NetnsNginx(host, tmp / name, LISTEN, ADMIN) for name, host in net.members.items()]
        default, second = (netns_edge_proxy(n) for n in nginx)
        config = edge_config(tmp, BLUE, GREEN, default, [as_more_edge("edge-2", second)])
        edges = composite(config)
        try:
            start_on_blue(edges, nginx)
            yield World(net, nginx, config, edges)
        finally:
            for edge in nginx:
                edge.stop()
            for process in standins:
                process.terminate()
                process.wait(5)


def test_a_switch_changes_every_edge(world: World) -> None:
    world.mend()
    world.edges.set_canary(Canary("green", 20))
    assert world.edges.read_back() == ReadBack(True, "blue", Canary("green", 20))
    result = world.edges.switch("green")
    assert world.edges.read_back() == ReadBack(True, "green", None)
    assert world.colours() == ["green", "green"]
    assert "all 2 edges route to green" in result.detail
    world.edges.switch("blue")
    assert world.colours() == ["blue", "blue"]


FAULTS: dict[str, Callable[[World], None]] = {
    "killed": lambda w: kill(w.nginx[1].pids()),
    "hung": lambda w: pause(w.nginx[1].pids()),
    "cut off": lambda w: w.net.members["e2"].cut(),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_an_edge_failing_mid_switch_puts_every_edge_back_and_names_its_host(
    world: World, fault: str
) -> None:
    world.mend()
    failed = failed_switch(world.edges, 1, lambda: FAULTS[fault](world))
    text = str(failed)
    assert "The switch to green failed on edge edge-2 (10.80.0.3)" in text, text
    assert "edge default (10.80.0.2) routes to blue" in text, text
    assert served_color(world.nginx[0].url) == "blue"  # put back while edge-2 was down
    assert failed.read_back is not None and failed.read_back.color == "blue"
    # Once edge-2 is back, both edges are on one colour: the one the other was put back to.
    for host in world.net.members.values():
        host.mend()
    resume(world.nginx[1].pids())
    if not world.nginx[1].pids():
        world.nginx[1].start()
    converge_on_intent(world)
    assert world.colours() == ["blue", "blue"]


def converge_on_intent(world: World) -> None:
    """What the agent's reconciler does on its next tick (without a store: the composite's)."""
    world.edges.converge()


def test_an_edge_restarted_on_an_old_file_is_converged_and_the_event_says_so(
    world: World, tmp_path: Path
) -> None:
    world.mend()
    inst = open_installation(world.config)  # the intent is kept in its store
    edges = inst.proxy
    assert isinstance(edges, EdgeSet)
    old = tmp_path / HTTP_FILE
    shutil.copy(world.nginx[1].include_dir / HTTP_FILE, old)  # routes to blue
    edges.switch("green")
    assert world.colours() == ["green", "green"]
    # edge-2 restarts with the file it had before the switch (a host restored from a backup,
    # a config management run): it comes back serving blue.
    world.nginx[1].stop()
    shutil.copy(old, world.nginx[1].include_dir / HTTP_FILE)
    world.nginx[1].start()
    assert world.colours() == ["green", "blue"]
    sentences = converge_edges(inst, OPERATOR)
    assert world.colours() == ["green", "green"]
    assert len(sentences) == 1 and "edge edge-2 (10.80.0.3) routes to blue" in sentences[0]
    events = [e for e in inst.store.events(limit=20) if e.kind == "edges"]
    assert events and "converged" in events[0].text
    view = inst.store.edges_view()
    assert view is not None and view.agree
    assert converge_edges(inst, OPERATOR) == []  # nothing differs now
    inst.close()
