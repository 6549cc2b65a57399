"""The gate over every replica (console/agent/replica_checks.py) and what the agent does with a
colour's replicas (replica_watch.py): real HTTP checks against loopback servers standing in for
three tasks, the tasks' documents as the Swarm runtime reads them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from console.agent.replica_checks import (
    ReplicaRound,
    counted,
    replica_condition,
    replica_status,
)
from console.agent.replica_watch import ReplicaWatch, routed_peers
from console.agent.slot_checks import CheckResults, of_round
from console.core.config.schema import ReadinessConfig
from console.core.config.sources import at_endpoint
from console.core.contracts.proxy import ProxyError
from console.core.contracts.runtime import ReplicaSet, TaskInfo
from console.core.gate.readiness import GateInputs, ReadinessGate
from console.core.model import SlotStatus
from console.core.replicas import replica_status_from_json
from console.core.store.schema import slot_status_from_json, slot_status_to_json
from tests.unit.loopback_http import Loopback, loopback_server

READINESS = ReadinessConfig(health_path="/ready", health_expect="", smoke_path="")


def task_at(task_id: str, node: str, port: int, **changes: object) -> TaskInfo:
    task = TaskInfo(task_id, node, "127.0.0.1", port, "running", "running", True)
    return dataclasses.replace(task, **changes)  # type: ignore[arg-type]


@pytest.fixture
def three() -> Iterator[list[Loopback]]:
    with ExitStack() as stack:
        servers = [stack.enter_context(loopback_server()) for _ in range(3)]
        for server in servers:
            server.text("/ready", "ready")
        yield servers


def gate(round_: ReplicaRound, replicas: ReplicaSet, now: ReplicaSet | None = None) -> CheckResults:
    results = of_round(round_.run(replicas))
    return counted(results, results.replicas, now or replicas)


def test_the_colour_passes_only_when_every_replica_answers(three: list[Loopback]) -> None:
    tasks = tuple(task_at(f"t{i}", f"n{i}", s.port) for i, s in enumerate(three))
    replicas = ReplicaSet(3, tasks)
    round_ = ReplicaRound(READINESS, [])
    passed = gate(round_, replicas)
    assert passed.health_ok and passed.health_detail == "3 replicas answer"
    three[1].text("/ready", "warming up", status=503)
    failed = gate(round_, replicas)
    assert failed.health_ok is False and "replica on n1: HTTP 503" in failed.health_detail
    round_.close()


def test_a_task_on_a_dead_node_or_seen_twice_never_counts(three: list[Loopback]) -> None:
    tasks = (
        task_at("t0", "n0", three[0].port),
        task_at("t1", "n1", three[1].port),
        task_at("t2", "n2", three[2].port, node_up=False),  # its last report: running
        task_at("t1", "n1", three[1].port),  # the same task listed twice
        task_at("t3", "", 0, state="pending", error="no suitable node (max replicas per node)"),
    )
    replicas = ReplicaSet(3, tasks)
    assert [t.id for t in replicas.counting] == ["t0", "t1"]
    round_ = ReplicaRound(READINESS, [])
    result = gate(round_, replicas)
    assert result.health_ok and result.health_detail == "2 replicas answer"  # each that counts
    ok, detail = replica_condition(replicas) or (True, "")
    assert not ok and detail.startswith("2 of 3 replicas running (node n2 is down; task t3")
    assert len(three[2].received) == 0  # the dead node's task was never asked
    assert replica_condition(ReplicaSet(2, tasks[:2])) == (True, "2/2 running on n0, n1")
    assert replica_condition(None) is None  # one container: no such condition
    shown = replica_status(replicas, round_.run(replicas).checked)
    assert shown is not None and shown.down_nodes == ("n2",)
    assert "2/3 running on n0, n1" in shown.summary() and "node n2 is down" in shown.summary()
    round_.close()


def test_a_rescheduled_task_must_pass_its_own_checks_first(three: list[Loopback]) -> None:
    before = ReplicaSet(3, tuple(task_at(f"t{i}", f"n{i}", s.port) for i, s in enumerate(three)))
    round_ = ReplicaRound(READINESS, [])
    done = round_.run(before)
    moved = ReplicaSet(3, (*before.tasks[:2], task_at("t9", "n2", three[2].port)))
    results = CheckResults(done.health_ok, done.health_detail, (), None, "", done.checked)
    later = counted(results, results.replicas, moved)  # the round was of the old task
    assert later.health_ok is False and "replica on n2 not checked yet" in later.health_detail
    assert gate(round_, moved).health_ok  # its own round: it passes
    round_.close()


def test_check_urls_written_for_this_host_are_asked_of_each_task() -> None:
    assert at_endpoint("http://127.0.0.1:29751/ready?x=1", "10.77.0.3:29751") == (
        "http://10.77.0.3:29751/ready?x=1"
    )
    assert at_endpoint("https://status.example.com/ok", "10.77.0.3:29751") == (
        "https://status.example.com/ok"
    )


def test_the_replicas_round_trip_through_the_store_and_json() -> None:
    replicas = ReplicaSet(2, (task_at("t0", "n0", 1), task_at("t1", "n1", 2, node_up=False)))
    status = SlotStatus("green", replicas=replica_status(replicas, None))
    again = slot_status_from_json(slot_status_to_json(status))
    assert again is not None and again.replicas == status.replicas
    assert replica_status_from_json({"tasks": []}) is None


class FakeProxy:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        self.refuse = False

    def set_peers(self, color: str, peers: list[str]) -> None:
        if self.refuse:
            raise ProxyError("The nginx admin endpoint did not take green's replicas.")
        self.sent.append((color, peers))


class FakeStore:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def record_event(self, kind: str, text: str, level: str, *rest: object) -> None:
        self.events.append((kind, text, level))


def test_the_agent_routes_the_answering_replicas_and_says_which_node_was_lost() -> None:
    proxy, store, lines = FakeProxy(), FakeStore(), []
    watch = ReplicaWatch(lambda: proxy, store, "agent", lines.append)  # type: ignore[arg-type,return-value]

    def status(tasks: tuple[TaskInfo, ...], checked: dict[str, bool]) -> SlotStatus:
        replicas = ReplicaSet(3, tasks)
        from console.agent.replica_checks import ReplicaCheck

        round_ = tuple(ReplicaCheck(t, "", ok, "") for t, ok in checked.items())
        return SlotStatus("green", deployment_id=7, replicas=replica_status(replicas, round_))

    tasks = tuple(task_at(f"t{i}", f"n{i}", 29752, address=f"10.0.0.{i}") for i in range(3))
    watch.tick(status(tasks, {"t0": True, "t1": True, "t2": True}), 100.0)
    assert proxy.sent == [("green", ["10.0.0.0:29752", "10.0.0.1:29752", "10.0.0.2:29752"])]
    watch.tick(status(tasks, {"t0": True, "t1": True, "t2": False}), 101.0)  # n2 stops answering
    assert proxy.sent[-1] == ("green", ["10.0.0.0:29752", "10.0.0.1:29752"])
    assert store.events == []  # still counted: only its checks fail

    down = (*tasks[:2], dataclasses.replace(tasks[2], node_up=False))
    watch.tick(status(down, {"t0": True, "t1": True}), 102.0)
    assert store.events == [
        ("replica", "green: the replica on n2 is lost (node n2 is down).", "warning")
    ]
    moved = (*down, task_at("t9", "n2", 29752, address="10.0.0.2"))
    watch.tick(status(moved, {"t0": True, "t1": True, "t9": True}), 103.0)
    assert (
        "a new replica runs on n2 (task t9), rescheduled after the one on n2 was lost"
        in store.events[-1][1]
    )
    assert proxy.sent[-1][1] == ["10.0.0.0:29752", "10.0.0.1:29752", "10.0.0.2:29752"]

    count = len(proxy.sent)
    watch.tick(status(moved, {"t0": True, "t1": True, "t9": True}), 104.0)
    assert len(proxy.sent) == count  # unchanged: not sent again until the resend interval
    proxy.refuse = True
    watch.tick(status(moved, {"t0": True, "t1": True, "t9": True}), 200.0)
    assert "did not take green's replicas" in lines[-1]


def test_no_answering_replica_routes_to_those_that_run_and_none_leaves_the_list() -> None:
    tasks = (task_at("t0", "n0", 1),)
    shown = replica_status(ReplicaSet(1, tasks), None)
    assert routed_peers(SlotStatus("blue", replicas=shown)) == ["127.0.0.1:1"]
    assert routed_peers(SlotStatus("blue", replicas=replica_status(ReplicaSet(1, ()), None))) == []
    assert routed_peers(SlotStatus("blue")) == []


def test_a_lost_replica_leaves_ready_at_once_where_a_failing_check_has_its_grace() -> None:
    config = ReadinessConfig(health_path="/ready", smoke_path="", leave_after_seconds=10.0)
    gate_ = ReadinessGate(config, catchup=False)

    def ready(at: float, health: bool, replicas: tuple[bool, str]) -> bool:
        inputs = GateInputs(
            now=at, lag=None, sample_at=None, log_pattern_seen=None, health_ok=health,
            smoke_ok=None, smoke_detail="", height=None, live_height=None,
            is_live_candidate=True, replicas=replicas,
        )  # fmt: skip
        return gate_.evaluate(inputs).ready

    assert ready(0.0, True, (True, "3/3 running"))
    assert ready(1.0, False, (True, "3/3 running"))  # one check failing: within its grace
    assert ready(2.0, True, (True, "3/3 running"))
    assert not ready(3.0, True, (False, "2 of 3 replicas running (node n2 is down)"))


def test_status_text_names_the_nodes_and_each_task_that_does_not_count() -> None:
    from console.cli.render_replicas import replica_lines

    tasks = (
        task_at("t0", "n0", 1),
        task_at("t1", "n1", 2),
        task_at("t2", "n2", 3, node_up=False),
        task_at("t3", "", 0, state="pending", error="no suitable node"),
    )
    shown = replica_status(ReplicaSet(3, tasks), None)
    lines = replica_lines("green", shown)
    assert lines[0] == (
        "  green: replicas 2/3 running on n0, n1; node n2 is down; task t3 no suitable node"
    )
    assert "  green:   task t3 unassigned (—): no suitable node" in lines
    assert replica_lines("green", None) == []


CATCHUP = """
service = "svc"
[image]
repository = "svc"
[slots.blue]
container = "svc-blue"
host_port = 29751
db_url = "postgresql://u:p@127.0.0.1:9/b"
[slots.green]
container = "svc-green"
host_port = 29752
db_url = "postgresql://u:p@127.0.0.1:9/g"
[head]
kind = "http"
url = "http://203.0.113.9:9/head"
field = "h"
[candidate]
kind = "{kind}"
{candidate}
"""


def test_a_re_indexer_s_catch_up_is_its_slowest_replica_s(three: list[Loopback]) -> None:
    from console.agent.replica_progress import TaskProgress
    from console.core.config.load import parse_config
    from console.drivers.progress import make_task_source

    text = CATCHUP.format(
        kind="http", candidate='url = "http://127.0.0.1:{host_port}/s"\nfield = "h"'
    )
    config = parse_config(text)
    for server, height in zip(three, (120, 97, 118), strict=True):
        server.json("/s", {"h": height})
    tasks = tuple(task_at(f"t{i}", f"n{i}", s.port) for i, s in enumerate(three))
    progress = TaskProgress(lambda endpoint: make_task_source(config, "blue", endpoint))
    try:
        assert progress.per_task
        assert progress.read(ReplicaSet(3, tasks)).height == 97  # the slowest
        three[1].json("/s", {"h": None})  # a rescheduled replica that has not started
        assert progress.read(ReplicaSet(3, tasks)).height is None
        moved = ReplicaSet(3, (*tasks[:1], tasks[2]))
        assert progress.read(moved).height == 118  # its replica is gone: read no more
    finally:
        progress.close()
    sql = parse_config(CATCHUP.format(kind="sql", candidate=""))
    assert not TaskProgress(lambda endpoint: make_task_source(sql, "blue", endpoint)).per_task
