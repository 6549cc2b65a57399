"""What status shows of a colour that runs as several replicas (a Swarm service's tasks): how
many are wanted, how many count, and each task — its node, its state, where it answers and what
its checks said. Written by the agent into the colour's `SlotStatus`, read by `status`, `--json`
and the TUI. Pure values; the runtime's own view is `contracts.runtime.ReplicaSet`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TaskStatus:
    id: str  # the scheduler's task id (shown shortened)
    node: str  # where it runs ("" while unassigned)
    state: str  # the scheduler's state: running, pending, starting, failed, …
    desired: str  # what the scheduler wants of it: running, shutdown
    endpoint: str = ""  # HOST:PORT where it answers; "" while it has none
    node_up: bool = True  # False: its node is down (it is never counted then)
    counted: bool = False  # one of the colour's replicas now (running, wanted, node up)
    healthy: bool | None = None  # its checks' last answer; None = not checked (yet)
    detail: str = ""  # why not healthy, or why it does not count
    outage: str = ""  # it died with its node, and how ("node w2's engine restarted"); "" = no

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    desired: int
    tasks: tuple[TaskStatus, ...] = ()
    down_nodes: tuple[str, ...] = ()  # nodes that are down while a task of it ran there

    @property
    def running(self) -> int:
        return sum(1 for task in self.tasks if task.counted)

    @property
    def healthy(self) -> int:
        return sum(1 for task in self.tasks if task.counted and task.healthy)

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes its counted tasks run on, each once."""
        return tuple(sorted({task.node for task in self.tasks if task.counted and task.node}))

    def summary(self) -> str:
        """'3/3 running on mgr, w1, w2' (+ what does not count, and why)."""
        text = f"{self.running}/{self.desired} running"
        if self.nodes:
            text += " on " + ", ".join(self.nodes)
        for node in self.down_nodes:
            text += f"; node {node} is down"
        for node, outage in self.outages().items():
            text += f"; the replica on {node} was lost ({outage}), rescheduling"
        unhealthy = [t for t in self.tasks if t.counted and t.healthy is False]
        if unhealthy:
            text += f"; {len(unhealthy)} failing checks"
        away = [
            t
            for t in self.tasks
            if t.desired == "running" and not t.counted and t.node not in self.down_nodes
        ]
        for task in away:
            where = f" on {task.node}" if task.node else ""
            text += f"; task {task.short_id}{where} {task.detail or task.state}"
        return text

    def outages(self) -> dict[str, str]:
        return outages_by_node(self.tasks, set(self.nodes))


class _OnANode(Protocol):
    @property
    def node(self) -> str: ...
    @property
    def node_up(self) -> bool: ...
    @property
    def outage(self) -> str: ...


def outages_by_node(tasks: Iterable[_OnANode], running_on: set[str]) -> dict[str, str]:
    """The nodes back from an outage that took their replica and not yet running one again, with
    the newest outage of each (tasks come oldest first): a short outage of a node is said as one,
    not as a failed replica."""
    lost: dict[str, str] = {}
    for task in tasks:
        if task.outage and task.node_up and task.node and task.node not in running_on:
            lost[task.node] = task.outage
    return lost


def replica_status_json(status: ReplicaStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    return {
        "desired": status.desired,
        "running": status.running,
        "healthy": status.healthy,
        "nodes": list(status.nodes),
        "down_nodes": list(status.down_nodes),
        "tasks": [asdict(task) for task in status.tasks],
    }


def replica_status_from_json(data: object) -> ReplicaStatus | None:
    """The stored form back (ignores keys a newer writer added); None when absent or unreadable."""
    if not isinstance(data, dict) or not isinstance(data.get("desired"), int):
        return None
    known = set(TaskStatus.__dataclass_fields__)
    tasks = tuple(
        TaskStatus(**{key: value for key, value in task.items() if key in known})
        for task in data.get("tasks") or ()
        if isinstance(task, dict)
    )
    down = tuple(str(node) for node in data.get("down_nodes") or ())
    return ReplicaStatus(desired=data["desired"], tasks=tasks, down_nodes=down)
