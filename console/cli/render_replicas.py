"""How `status` shows a colour's replicas (a Swarm service's tasks): running/desired, the nodes,
where they are reached, and a line per task that does not count or fails its checks, naming its
node; and where `config check` says a colour is reached (`colour_where`)."""

from __future__ import annotations

from console.core.config.schema import Config
from console.core.model import Color
from console.core.replicas import ReplicaStatus


def colour_where(config: Config, color: Color) -> str:
    """'NAME on 127.0.0.1:PORT' for one container; on a Swarm, its replicas on the nodes'
    addresses (the operator's [swarm] addresses where given), never loopback."""
    slot = config.slot(color)
    if config.runtime.kind != "swarm":
        return f"{slot.container} on 127.0.0.1:{slot.host_port}"
    swarm = config.swarm
    where = f"each at its node's address:{slot.host_port} (host mode)"
    if swarm.addresses:
        listed = ", ".join(
            f"{addr}:{slot.host_port}" for _, addr in sorted(swarm.addresses.items())
        )
        where = f"at {listed} (host mode, [swarm] addresses)"
    return f"{slot.container}: {swarm.replicas} Swarm replica(s), {where}"


def replica_lines(color: str, replicas: ReplicaStatus | None) -> list[str]:
    if replicas is None:
        return []
    lines = [f"  {color}: replicas {replicas.summary()}"]
    reached = [t.endpoint for t in replicas.tasks if t.counted and t.endpoint]
    if reached:
        lines.append(f"  {color}:   reached at {', '.join(sorted(reached))}")
    for task in replicas.tasks:
        if task.counted and task.healthy is not False:
            continue
        if not task.counted and task.desired != "running":
            continue  # history: said in the summary when it matters
        where = f"on {task.node}" if task.node else "unassigned"
        why = task.detail or task.state
        lines.append(f"  {color}:   task {task.short_id} {where} ({task.endpoint or '—'}): {why}")
    return lines
