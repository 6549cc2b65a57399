"""How `status` shows a colour's replicas (a Swarm service's tasks): running/desired, the nodes,
and a line per task that does not count or fails its checks, naming its node."""

from __future__ import annotations

from console.core.replicas import ReplicaStatus


def replica_lines(color: str, replicas: ReplicaStatus | None) -> list[str]:
    if replicas is None:
        return []
    lines = [f"  {color}: replicas {replicas.summary()}"]
    for task in replicas.tasks:
        if task.counted and task.healthy is not False:
            continue
        if not task.counted and task.desired != "running":
            continue  # history: said in the summary when it matters
        where = f"on {task.node}" if task.node else "unassigned"
        why = task.detail or task.state
        lines.append(f"  {color}:   task {task.short_id} {where} ({task.endpoint or '—'}): {why}")
    return lines
