"""A node's short outage is not a task's failure (drivers/swarm/outages.py), over the fake of the
SDK's documents: a task whose node's engine restarted under it (the node re-registered: a new
document version, never Down) is lost with its node, said so in status and in the replica
event; a task that fails on a node that did not change is a restart, so a crash loop still fails
the colour."""

from __future__ import annotations

import copy
from typing import Any

from console.agent.replica_checks import missing_replicas, replica_status
from console.agent.replica_watch import ReplicaWatch
from console.core.config.swarm import SwarmConfig
from console.core.model import SlotState, SlotStatus
from console.drivers.swarm.runtime import SwarmRuntime
from tests.unit.swarm_fake import THREE_NODES, FakeApi, FakeClient, service, task

EXIT_255 = "task: non-zero exit (255)"  # what a node whose engine restarted reports (measured)


def cluster(*tasks: dict) -> tuple[FakeApi, SwarmRuntime]:
    api = FakeApi(node_list=copy.deepcopy(THREE_NODES))
    for index, document in enumerate(api.node_list):
        document["Version"] = {"Index": 10 + index}
    api.by_name["web-green"] = service("svc1", "web-green", 3)
    api.tasks_of["svc1"] = list(tasks)
    runtime = SwarmRuntime("unix:///fake/manager.sock", SwarmConfig(replicas=3))
    runtime._connect = lambda timeout: FakeClient(api)  # type: ignore[method-assign,assignment,return-value]
    return api, runtime


def restart_node(api: FakeApi, index: int) -> None:
    """The node's engine came back and registered again: a new version, never Down."""
    api.node_list[index]["Version"]["Index"] += 7


def restarts(runtime: SwarmRuntime) -> int:
    info = runtime.inspect("web-green")
    assert info is not None
    return info.restart_count


def test_a_task_killed_by_its_node_s_engine_restart_is_not_a_restart_and_says_so() -> None:
    api, runtime = cluster(task("t1", "n1"), task("t2", "n2"), task("t3", "n3"))
    assert restarts(runtime) == 0
    restart_node(api, 2)
    api.tasks_of["svc1"][2] = task("t3", "n3", state="failed", desired="shutdown", err=EXIT_255)
    api.tasks_of["svc1"].append(task("t4", "n3", state="preparing"))
    assert restarts(runtime) == 0
    replicas = runtime.replicas("web-green")
    assert replicas is not None
    assert [t.outage for t in replicas.tasks if t.id == "t3"] == ["node w2's engine restarted"]
    assert missing_replicas(replicas) == [
        "2 of 3 replicas running (the replica on w2 was lost (node w2's engine restarted), "
        "rescheduling; task t4 on w2 preparing)"
    ]
    shown = replica_status(replicas, ())
    assert shown is not None
    assert "the replica on w2 was lost (node w2's engine restarted), rescheduling" in (
        shown.summary()
    )
    # Once its replacement runs there, the outage is history: nothing more is said.
    api.tasks_of["svc1"][3] = task("t4", "n3")
    again = replica_status(runtime.replicas("web-green"), ())
    assert again is not None and "lost" not in again.summary() and again.running == 3
    assert restarts(runtime) == 0  # and it stays so on every later read


def test_a_task_that_fails_on_a_node_that_did_not_change_is_a_restart() -> None:
    api, runtime = cluster(task("t1", "n1"), task("t2", "n2"), task("t3", "n3"))
    assert restarts(runtime) == 0
    api.tasks_of["svc1"][2] = task("t3", "n3", state="failed", desired="shutdown", err=EXIT_255)
    assert restarts(runtime) == 1
    # A crash loop: its replacements fail too, each counted (the colour is then failed).
    for number in (4, 5):
        api.tasks_of["svc1"].append(task(f"t{number}", "n3", state="starting"))
        assert restarts(runtime) == number - 3
        api.tasks_of["svc1"][-1] = task(
            f"t{number}", "n3", state="failed", desired="shutdown", err="exit 1"
        )
    assert restarts(runtime) == 3
    replicas = runtime.replicas("web-green")
    assert replicas is not None and not any(t.outage for t in replicas.tasks)


def test_a_replacement_that_fails_after_the_node_came_back_is_a_restart() -> None:
    api, runtime = cluster(task("t1", "n1"), task("t2", "n2"), task("t3", "n3"))
    restarts(runtime)
    restart_node(api, 2)
    api.tasks_of["svc1"][2] = task("t3", "n3", state="failed", desired="shutdown", err=EXIT_255)
    api.tasks_of["svc1"].append(task("t4", "n3", state="starting"))
    assert restarts(runtime) == 0
    api.tasks_of["svc1"][3] = task("t4", "n3", state="failed", desired="shutdown", err="exit 2")
    assert restarts(runtime) == 1


def test_a_task_first_seen_failed_is_left_as_the_scheduler_says() -> None:
    """An agent that starts after the outage never saw the task run: a restart, taken as the
    colour's baseline (slot_watch's restarts_at_start), as for one container."""
    api, runtime = cluster(
        task("t1", "n1"), task("t2", "n2"), task("t3", "n3", "failed", "shutdown", err=EXIT_255)
    )
    restart_node(api, 2)
    assert restarts(runtime) == 1


def test_the_lost_replica_s_event_says_the_node_restarted() -> None:
    api, runtime = cluster(task("t1", "n1"), task("t2", "n2"), task("t3", "n3"))
    events: list[tuple[Any, ...]] = []

    class Store:
        def record_event(self, *args: Any) -> None:
            events.append(args)

    watch = ReplicaWatch(lambda: None, Store(), "agent", lambda line: None)  # type: ignore[arg-type,return-value]

    def tick() -> None:
        status = SlotStatus(
            "green",
            SlotState.STARTING,
            deployment_id=7,
            replicas=replica_status(runtime.replicas("web-green"), ()),
        )
        watch._record_changes(status)

    tick()
    restart_node(api, 2)
    api.tasks_of["svc1"][2] = task("t3", "n3", state="failed", desired="shutdown", err=EXIT_255)
    tick()
    assert [e[1] for e in events] == [
        "green: the replica on w2 is lost (node w2's engine restarted; it is being rescheduled)."
    ]
    api.tasks_of["svc1"].append(task("t4", "n3"))
    tick()
    assert events[-1][1] == (
        "green: a new replica runs on w2 (task t4), rescheduled after the one on w2 was lost."
    )
