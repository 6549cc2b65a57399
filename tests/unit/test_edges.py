"""Several edge proxies as one (`[[proxy.edges]]`): the composite's logic over fake edges — intent
first, all or none, bounded per edge, put back and said in one paragraph, converged later — and
the section's keys and checks. The real nginx and HAProxy edges: tests/integration/test_edges.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from console.cli.render_edges import status_lines
from console.core.actor import AGENT_ACTOR as OPERATOR
from console.core.config.edges import DEFAULT_EDGE
from console.core.config.load import ConfigError, parse_config
from console.core.contracts.edges import (
    EdgeIntent,
    EdgeReading,
    EdgesView,
    agreement,
    edge_proxies,
)
from console.core.contracts.proxy import UNANSWERED, ProxyError, ReadBack, SwitchResult
from console.core.installation import Drivers, Installation
from console.core.model import Canary, Color
from console.core.ops.edges import converge_edges
from console.core.store.store import Store
from console.drivers.proxy import make_proxy
from console.drivers.proxy.edges.composite import EdgeSet, MemoryJournal
from console.drivers.proxy.edges.edge import Edge
from console.drivers.proxy.nginx.live import NginxLiveDriver
from tests.unit.test_proxy_config import BASE


class FakeEdge:
    """An edge proxy's routing, with a failure or a hang to inject on the next change."""

    def __init__(self, journal: MemoryJournal, color: Color | None = "blue") -> None:
        self.name = "fake"
        self.color = color
        self.canary: Canary | None = None
        self.silent = False
        self.fail_next = False
        self.hang: threading.Event | None = None
        self.silent_when_hung = False  # killed or cut off: its read-back stops answering too
        self.journal = journal
        self.intent_at_change: EdgeIntent | None = None
        self.calls: list[str] = []

    def _change(self, what: str) -> None:
        self.calls.append(what)
        self.intent_at_change = self.journal.recorded()
        if self.hang is not None:
            self.silent = self.silent_when_hung
            self.hang.wait(10)
            raise ProxyError("hung and then refused.")
        if self.fail_next:
            self.fail_next = False
            raise ProxyError("The admin endpoint refused the switch.")

    def read_back(self) -> ReadBack:
        return UNANSWERED if self.silent else ReadBack(True, self.color, self.canary)

    def switch(self, to: Color) -> SwitchResult:
        self._change(f"switch {to}")
        self.color, self.canary = to, None
        return SwitchResult(to, 3.0, True, f"fake routes to {to}")

    def set_canary(self, canary: Canary | None) -> None:
        self._change(f"canary {canary}")
        self.canary = canary

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        self._change(f"install {live}")
        self.color, self.canary = live, canary

    def persisted(self) -> Color | None:
        return self.color


def edge_set(count: int = 2, bound: float = 5.0) -> tuple[EdgeSet, list[FakeEdge]]:
    journal = MemoryJournal()
    fakes = [FakeEdge(journal) for _ in range(count)]
    names = [DEFAULT_EDGE, *(f"edge-{i}" for i in range(2, count + 1))]
    edges = [
        Edge(name, f"10.80.0.{i + 2}", fake, "/tmp/none")  # type: ignore[arg-type]
        for i, (name, fake) in enumerate(zip(names, fakes, strict=True))
    ]
    composite = EdgeSet(edges, verify_timeout_seconds=1.0)
    composite.keep_intent_in(journal)
    composite.change_bound = bound
    return composite, fakes


def test_a_switch_records_the_intent_before_any_edge_changes_then_changes_all() -> None:
    composite, fakes = edge_set(3)
    result = composite.switch("green")
    assert [f.color for f in fakes] == ["green"] * 3
    assert all(f.intent_at_change and f.intent_at_change.color == "green" for f in fakes)
    assert result.color == "green" and result.verified and "all 3 edges" in result.detail
    assert composite.read_back() == ReadBack(True, "green", None)


def test_one_edge_failing_puts_every_edge_back_and_names_the_host() -> None:
    composite, (first, second) = edge_set(2)
    second.fail_next = True
    with pytest.raises(ProxyError) as failed:
        composite.switch("green")
    text = str(failed.value)
    assert "failed on edge edge-2 (10.80.0.3)" in text
    assert "refused the switch" in text
    assert "edge default (10.80.0.2) routes to blue" in text
    assert "edge edge-2 (10.80.0.3) routes to blue" in text
    assert [first.color, second.color] == ["blue", "blue"]
    assert first.calls == ["switch green", "switch blue"]  # switched, then put back
    assert failed.value.read_back == ReadBack(True, "blue", None)
    recorded = composite.journal.recorded()
    assert recorded is not None and recorded.color == "blue" and "put back" in recorded.what


def test_a_hung_edge_costs_its_bound_not_the_switch_and_the_agent_converges_it_later() -> None:
    composite, (first, second) = edge_set(2, bound=0.3)
    second.hang = threading.Event()
    with pytest.raises(ProxyError) as failed:
        composite.switch("green")
    assert "gave no answer within 0.3 s" in str(failed.value)
    assert first.color == "blue"  # put back
    # The hung edge applies the switch after all once it runs again (HAProxy has no expiry).
    second.hang = None
    second.color = "green"
    assert composite.read_back() == UNANSWERED  # the edges differ: no one colour
    sentences = composite.converge()
    assert second.color == "blue"
    assert len(sentences) == 1 and "edge edge-2 (10.80.0.3) routes to green" in sentences[0]
    assert "converged" in sentences[0]
    assert composite.converge() == []  # nothing differs any more


def test_an_edge_that_stops_answering_mid_switch_is_given_up_before_its_bound() -> None:
    composite, (first, second) = edge_set(2, bound=30.0)
    second.hang, second.silent_when_hung = threading.Event(), True
    with pytest.raises(ProxyError) as failed:
        composite.switch("green")
    second.hang.set()  # its call returns later, ignored: what it did is read back
    assert "edge-2 (10.80.0.3): it stopped answering in the middle of the change" in str(
        failed.value
    )
    assert first.color == "blue" and first.calls == ["switch green", "switch blue"]


def test_an_edge_that_does_not_answer_refuses_the_change_and_nothing_is_sent() -> None:
    composite, (first, second) = edge_set(2)
    second.silent = True
    with pytest.raises(ProxyError) as refused:
        composite.switch("green")
    assert "No switch to green was sent to any of the 2 edges" in str(refused.value)
    assert "edge edge-2 (10.80.0.3) did not answer" in str(refused.value)
    assert first.calls == [] and second.calls == []
    assert composite.journal.recorded() is None
    # A silent edge does not hide where the others route.
    assert composite.read_back() == ReadBack(True, "blue", None)


def test_a_canary_weight_goes_to_every_edge_or_is_put_back_on_all() -> None:
    composite, (first, second) = edge_set(2)
    composite.set_canary(Canary("green", 10))
    assert first.canary == second.canary == Canary("green", 10)
    second.fail_next = True
    with pytest.raises(ProxyError) as failed:
        composite.set_canary(Canary("green", 50))
    assert first.canary == second.canary == Canary("green", 10)
    assert "canary (50 % of clients to green) failed on edge edge-2" in str(failed.value)


def test_an_edge_restarted_on_an_old_colour_is_converged_to_the_intent() -> None:
    composite, (_first, second) = edge_set(2)
    composite.switch("green")
    second.color = "blue"  # restarted from a file written before the switch
    sentences = composite.converge()
    assert second.color == "green" and second.calls[-1] == "switch green"
    assert "not the recorded intent (switch to green)" in sentences[0]


def test_agreement_names_a_colour_only_when_every_answering_edge_has_it() -> None:
    blue, green = ReadBack(True, "blue"), ReadBack(True, "green")
    assert agreement((EdgeReading("a", "h", blue), EdgeReading("b", "h", UNANSWERED))) == blue
    assert agreement((EdgeReading("a", "h", blue), EdgeReading("b", "h", green))) is None
    assert agreement((EdgeReading("a", "h", UNANSWERED),)) is None


def test_the_intent_and_the_readings_round_trip_through_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    intent = EdgeIntent("green", Canary("blue", 5), "canary", 12.5)
    store.set_edge_intent(intent)
    assert store.edge_intent() == intent
    readings = (EdgeReading("default", "10.80.0.2", ReadBack(True, "green")),)
    store.put_edge_readings((*readings, EdgeReading("b", "h", UNANSWERED)), 99.0)
    assert store.edge_readings() == (99.0, (*readings, EdgeReading("b", "h", UNANSWERED)))
    store.close()


EDGES = (
    '[proxy]\nadmin_url = "http://10.80.0.2:29810"\nproxy_url = "http://10.80.0.2:29811"\n'
    '[[proxy.edges]]\nname = "edge-2"\nproxy_url = "http://10.80.0.3:29811"\n'
    'admin_url = "http://10.80.0.3:29810"\ninclude_dir = "/srv/edge-2/bluegreen"\n'
)


def test_edges_parse_and_build_one_composite_of_the_same_kind() -> None:
    config = parse_config(BASE + EDGES)
    assert [e.name for e in config.proxy.edges] == ["edge-2"]
    proxy = make_proxy(config)
    assert isinstance(proxy, EdgeSet) and edge_proxies(proxy) is proxy
    assert [(e.name, e.host) for e in proxy.edges] == [
        ("default", "10.80.0.2"),
        ("edge-2", "10.80.0.3"),
    ]
    second = proxy.edges[1].driver
    assert isinstance(second, NginxLiveDriver)
    assert second.admin_tcp == "10.80.0.3:29810" and str(second.include_dir).startswith("/srv")


def test_without_edges_the_proxy_is_the_single_driver_as_before() -> None:
    proxy = make_proxy(parse_config(BASE))
    assert isinstance(proxy, NginxLiveDriver) and edge_proxies(proxy) is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('[[proxy.edges]]\nname = "edge-2"\nadmin_url = "http://10.80.0.4:1"\n', "proxy_url"),
        (
            '[[proxy.edges]]\nname = "edge-2"\nproxy_url = "http://10.80.0.4:1"\n'
            'admin_url = "http://10.80.0.4:2"\ninclude_dir = "/srv/x"\n',
            "is taken",
        ),
        (
            '[[proxy.edges]]\nname = "edge-3"\nproxy_url = "http://10.80.0.4:1"\n'
            'admin_url = "http://10.80.0.3:29810"\ninclude_dir = "/srv/x"\n',
            "share the admin endpoint",
        ),
        ('[[proxy.edges]]\nname = "edge-3"\nproxy_url = "http://10.80.0.4:1"\n', "admin endpoint"),
    ],
)
def test_edge_problems_are_sentences(extra: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + EDGES + extra)
    assert problem in str(refused.value)


class SilentNotifier:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, kind: str, text: str, level: str = "info") -> None:
        self.sent.append(text)

    def close(self) -> None:
        pass


def installation_over(composite: EdgeSet, tmp_path: Path) -> tuple[Installation, SilentNotifier]:
    notifier = SilentNotifier()
    drivers = Drivers(
        runtime=lambda config, redactor: None,  # type: ignore[arg-type, return-value]
        proxy=lambda config: composite,  # type: ignore[arg-type, return-value]
        notifier=lambda config, redactor: notifier,  # type: ignore[arg-type, return-value]
        parity=lambda config, redactor: None,
    )
    text = BASE.replace("/var/lib/bg-test", str(tmp_path / "state")) + EDGES
    return Installation(parse_config(text), drivers), notifier


def test_the_agent_converges_a_differing_edge_under_the_lock_and_says_so(tmp_path: Path) -> None:
    composite, (_first, second) = edge_set(2)
    inst, notifier = installation_over(composite, tmp_path)
    assert inst.proxy is composite  # its intent now goes to the store
    composite.switch("green")
    assert inst.store.edge_intent() is not None and inst.store.edge_intent().color == "green"  # type: ignore[union-attr]
    second.color = "blue"
    with inst.lock.acquire("switch", OPERATOR):  # an operation in flight is never fought
        assert converge_edges(inst, OPERATOR) == []
    assert second.color == "blue"
    sentences = converge_edges(inst, OPERATOR)
    assert second.color == "green" and len(sentences) == 1
    events = [e for e in inst.store.events(limit=5) if e.kind == "edges"]
    assert [e.text for e in events] == sentences and notifier.sent
    view = inst.store.edges_view()
    assert view is not None and view.agree
    lines = status_lines(view, view.at + 2)
    assert lines[0] == "edges: all 2 agree (read 2s ago)"
    assert lines[1:] == [
        "  edge default (10.80.0.2) routes to green",
        "  edge edge-2 (10.80.0.3) routes to green",
    ]
    inst.close()


def test_status_says_when_the_edges_do_not_agree() -> None:
    readings = (
        EdgeReading("default", "10.80.0.2", ReadBack(True, "green")),
        EdgeReading("edge-2", "10.80.0.3", UNANSWERED),
    )
    view = EdgesView(10.0, readings, EdgeIntent("green", None, "switch to green"))
    assert not view.agree
    assert status_lines(view, 10.0)[0] == (
        "edges: the 2 edges DO NOT AGREE (read 0s ago); the agent re-applies: routes to green"
    )
    assert status_lines(view, 10.0)[2] == "  edge edge-2 (10.80.0.3) did not answer"
