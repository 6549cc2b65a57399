"""A Swarm colour's replica list across several edges (`EdgeSet.set_peers`): every edge that
can route to replicas gets it in parallel, one failing or hung edge never keeps it from the
others, one sentence names each edge that did not take it; the replica watch sends it again on
its next tick; `config check` refuses an edge that routes each colour to one address. The real
edges in front of the real Swarm: tests/integration/test_swarm_edges.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from console.agent.replica_checks import replica_status
from console.agent.replica_watch import ReplicaWatch
from console.core.config.load import ConfigError, parse_config
from console.core.contracts.proxy import PeerRouting, ProxyError
from console.core.contracts.runtime import ReplicaSet
from console.core.model import Color, SlotStatus
from console.drivers.proxy import make_proxy
from console.drivers.proxy.edges import composite
from console.drivers.proxy.edges.composite import EdgeSet
from console.drivers.proxy.edges.edge import Edge
from console.drivers.proxy.nginx.live import NginxLiveDriver
from tests.unit.test_edges import FakeEdge, edge_set
from tests.unit.test_proxy_config import BASE
from tests.unit.test_replica_gate import task_at

LIST = ["10.77.0.2:8080", "10.77.0.3:8080", "10.77.0.4:8080"]


class PeerFake(FakeEdge):
    """A fake edge that also routes to replicas: what it holds, a failure or a hang to inject."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.peers: dict[Color, list[str]] = {}
        self.refuse: str | None = None

    def set_peers(self, color: Color, peers: list[str]) -> None:
        if self.hang is not None:
            self.hang.wait(10)
            raise ProxyError("hung and then refused.")
        if self.refuse:
            raise ProxyError(self.refuse)
        self.peers[color] = list(peers)


@pytest.fixture
def three(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EdgeSet, list[PeerFake]]]:
    monkeypatch.setattr(composite, "PEERS_BOUND_SECONDS", 0.5)  # a hang costs this, not 5 s
    edges, fakes = edge_set(3)
    peer_fakes = [PeerFake(edges.journal) for _ in fakes]
    edges.edges = [
        Edge(e.name, e.host, fake, e.include_dir)  # type: ignore[arg-type]
        for e, fake in zip(edges.edges, peer_fakes, strict=True)
    ]
    yield edges, peer_fakes
    for fake in peer_fakes:
        if fake.hang is not None:
            fake.hang.set()


def test_the_list_goes_to_every_edge(three: tuple[EdgeSet, list[PeerFake]]) -> None:
    edges, fakes = three
    assert isinstance(edges, PeerRouting)
    edges.set_peers("green", LIST)
    assert [f.peers for f in fakes] == [{"green": LIST}] * 3


def test_a_failing_and_a_hung_edge_do_not_keep_the_list_from_the_third(
    three: tuple[EdgeSet, list[PeerFake]],
) -> None:
    edges, fakes = three
    fakes[0].refuse = "The nginx admin endpoint refused green's replicas (HTTP 500: boom)."
    fakes[1].hang = threading.Event()
    with pytest.raises(ProxyError) as failed:
        edges.set_peers("green", LIST)
    assert fakes[2].peers == {"green": LIST}
    text = str(failed.value)
    assert text.startswith(
        "The replica list for green failed on edge default (10.80.0.2): The nginx admin "
        "endpoint refused green's replicas (HTTP 500: boom); and on edge edge-2 (10.80.0.3): "
        "it gave no answer within 0.5 s (hung?)."
    ), text
    assert "The other 1 edge took it and routes green to it" in text
    assert "sends the list again on its next tick" in text and "\n" not in text


def test_an_edge_that_routes_to_one_address_is_named(three: tuple[EdgeSet, list[PeerFake]]) -> None:
    edges, fakes = three
    plain = FakeEdge(edges.journal)  # no set_peers: nginx reload mode
    edges.edges[2] = Edge("edge-3", "10.80.0.4", plain, "/tmp/none")  # type: ignore[arg-type]
    with pytest.raises(ProxyError) as failed:
        edges.set_peers("blue", LIST)
    assert "edge edge-3 (10.80.0.4): fake routes each colour to one address" in str(failed.value)
    assert [f.peers for f in fakes[:2]] == [{"blue": LIST}] * 2


def test_the_watch_sends_the_list_again_next_tick_until_every_edge_took_it(
    three: tuple[EdgeSet, list[PeerFake]],
) -> None:
    edges, fakes = three
    lines: list[str] = []
    watch = ReplicaWatch(lambda: edges, None, "agent", lines.append)  # type: ignore[arg-type]
    tasks = tuple(task_at(f"t{i}", f"n{i}", 8080, address=f"10.77.0.{i + 2}") for i in range(3))
    status = SlotStatus("green", deployment_id=7, replicas=replica_status(ReplicaSet(3, tasks), ()))
    watch._record_changes = lambda status: None  # type: ignore[method-assign]  # no store here
    fakes[1].refuse = "The nginx admin endpoint did not take green's replicas (ReadTimeout)."
    watch.tick(status, 100.0)
    watch.tick(status, 101.0)  # the same list, sent again: that edge still has none
    assert fakes[0].peers == {"green": LIST} and fakes[1].peers == {}
    assert len(lines) == 1 and "edge edge-2 (10.80.0.3)" in lines[0]  # logged once
    fakes[1].refuse = None  # SIGCONT
    watch.tick(status, 102.0)
    assert fakes[1].peers == {"green": LIST}
    assert lines[-1] == f"green: the proxy routes to {', '.join(LIST)}"
    watch.tick(status, 103.0)  # every edge has it: not sent again before RESEND_SECONDS
    assert len(lines) == 2


SWARM = '[runtime]\nkind = "swarm"\n'
EDGE = (
    '[[proxy.edges]]\nname = "e2"\nproxy_url = "http://10.82.0.3:80"\n'
    'admin_socket = "/run/e2.sock"\ninclude_dir = "/srv/e2/bluegreen"\n'
)


@pytest.mark.parametrize(
    ("proxy", "named"),
    [
        ('[proxy]\nmode = "reload"\n', "[proxy] (default) is nginx in reload mode"),
        ("[proxy]\n" + EDGE + 'mode = "reload"\n', "[[proxy.edges]] 'e2' is nginx in reload"),
        ('[proxy]\nmode = "reload"\n' + EDGE, "[proxy] (default) and [[proxy.edges]] 'e2' are"),
    ],
)
def test_config_check_refuses_an_edge_that_cannot_route_to_replicas(proxy: str, named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + SWARM + proxy)
    assert named in str(refused.value)
    assert 'nginx in live mode (mode = "live") or HAProxy' in str(refused.value)


def test_live_and_haproxy_edges_in_front_of_a_swarm_are_accepted() -> None:
    edge = EDGE + 'kind = "haproxy"\n'
    proxy = make_proxy(
        parse_config(BASE + SWARM + '[proxy]\nadmin_url = "http://10.82.0.9:1"\n' + edge)
    )
    assert isinstance(proxy, EdgeSet) and isinstance(proxy, PeerRouting)
    assert isinstance(proxy.edges[0].driver, NginxLiveDriver) and proxy.edges[0].driver.peers
    assert parse_config(BASE + '[proxy]\nmode = "reload"\n').proxy  # no Swarm: as before
