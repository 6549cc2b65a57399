"""Which of a colour's failed tasks died with their node rather than by themselves.

A failed task is a restart (a colour whose task keeps failing is a crash loop, and the deployment
fails), but a task killed because its node went away did not fail: its node did. Two outages look
different from the manager:

- **A long one** (more than the manager's heartbeat grace, ~13 s here): the node reads Down while
  its task still reads "running" (its last report). Such a task is lost with its node.
- **A short one** (the node's engine killed and back, or restarted, within that grace): the node
  never reads Down. When its engine comes back it registers again — the node's document gets a
  new version — and then reports the task failed ("task: non-zero exit (255)": the engine found
  its container dead). A failed task whose node got a new version since the task was first seen
  (running, or on its way there) died in that outage.

A task that fails on a node that did not change is the task's own failure, counted as before: a
true crash loop still fails the colour. Kept in memory by the runtime object (the agent's), so a
failure is classified once, when it is first seen, and stays so; a task first seen failed (an
agent that just started) is left as the scheduler says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from console.core.contracts.runtime import ReplicaSet
from console.drivers.swarm.model import FAILED_STATES

_REMEMBERED = 1000  # task ids: far more than a colour's task history keeps


def _node_versions(nodes: list[Mapping[str, Any]]) -> dict[str, tuple[int, bool]]:
    """Each node's (document version, up) by id."""
    return {
        str(node.get("ID") or ""): (
            int((node.get("Version") or {}).get("Index") or 0),
            str((node.get("Status") or {}).get("State") or "") == "ready",
        )
        for node in nodes
    }


class NodeOutages:
    """What the runtime remembers across reads to tell a node's outage from a task's failure."""

    def __init__(self) -> None:
        # task id → (node id, the node's version when the task was first seen, not yet failed)
        self._first_running: dict[str, tuple[str, int]] = {}
        # task id → what happened to its node ("node w2 was down", "node w2's engine restarted")
        self._lost: dict[str, str] = {}

    @property
    def lost(self) -> Mapping[str, str]:
        return self._lost

    def note(self, tasks: list[Mapping[str, Any]], nodes: list[Mapping[str, Any]]) -> None:
        """Take one read of the service's tasks and the cluster's nodes."""
        versions = _node_versions(nodes)
        hostnames = {
            str(n.get("ID") or ""): str((n.get("Description") or {}).get("Hostname") or "?")
            for n in nodes
        }
        for task in tasks:
            task_id = str(task.get("ID") or "")
            node_id = str(task.get("NodeID") or "")
            state = str((task.get("Status") or {}).get("State") or "")
            if not task_id or not node_id or task_id in self._lost or node_id not in versions:
                continue
            version, up = versions[node_id]
            name = hostnames.get(node_id, "?")
            if state == "running" and not up:
                self._lost[task_id] = f"node {name} was down"
            elif state not in FAILED_STATES:  # running, or on its way there
                self._first_running.setdefault(task_id, (node_id, version))
            else:
                seen = self._first_running.get(task_id)
                if seen is not None and seen[1] != version:
                    self._lost[task_id] = f"node {name}'s engine restarted"
        for remembered in (self._first_running, self._lost):
            while len(remembered) > _REMEMBERED:
                del remembered[next(iter(remembered))]

    def explain(self, replicas: ReplicaSet) -> ReplicaSet:
        """`replicas` with each task lost with its node saying so (`TaskInfo.outage`)."""
        if not any(task.id in self._lost for task in replicas.tasks):
            return replicas
        tasks = tuple(
            replace(task, outage=self._lost[task.id]) if task.id in self._lost else task
            for task in replicas.tasks
        )
        return replace(replicas, tasks=tasks)
