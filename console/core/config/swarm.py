"""`[swarm]`: how each colour runs on a Docker Swarm (`[runtime] kind = "swarm"`).

Each colour is one Swarm service (named as `[slots.X] container`) with `replicas` tasks. Its
port (`[slots.X] host_port`) is published in host mode on every node a task runs on, so each task
answers at NODE_ADDRESS:PORT: the readiness gate checks every one there, and the proxy routes to
them. Host mode is what works without the routing mesh (no IPVS on many kernels, and many
operators turn the mesh off); it allows one task of a colour per node, hence `max_per_node = 1`.
`[runtime] docker_host` is the manager's engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CONSTRAINT = re.compile(r"^\s*[A-Za-z0-9_.\-]+\s*(==|!=)\s*\S+\s*$")


@dataclass(frozen=True)
class SwarmConfig:
    replicas: int = 1  # tasks per colour; the gate counts every one
    # Tasks of one colour per node. Host-mode ports allow only one (a second would find the port
    # taken); 0 = no limit (for a colour that publishes nothing).
    max_per_node: int = 1
    # Placement constraints, as `docker service create --constraint`: "node.role == worker",
    # "node.labels.zone == a".
    constraints: list[str] = field(default_factory=list)
    # Where each node's own engine answers (node hostname → unix:///…, tcp://…, ssh://…), for the
    # resources of its tasks (the manager cannot stream another node's container stats). A node
    # not listed here: its tasks' resources are not measured, and the console says so.
    engines: dict[str, str] = field(default_factory=dict)
    # Where each node's published ports answer, when not at the address it advertised to the
    # Swarm (node hostname → address), e.g. behind NAT.
    addresses: dict[str, str] = field(default_factory=dict)


def swarm_problems(swarm: SwarmConfig, kind: str) -> list[str]:
    """`[swarm]`'s keys, as phrases (only when the runtime is a Swarm)."""
    if kind != "swarm":
        return []
    problems: list[str] = []
    if swarm.replicas < 1:
        problems.append("swarm.replicas must be 1 or more")
    if swarm.max_per_node < 0:
        problems.append("swarm.max_per_node must be 0 (no limit) or more")
    for constraint in swarm.constraints:
        if not _CONSTRAINT.match(constraint):
            problems.append(
                f"swarm.constraints: '{constraint}' is not a placement constraint; write e.g. "
                '"node.role == worker"'
            )
    for node, engine in swarm.engines.items():
        if not engine.startswith(("unix://", "tcp://", "ssh://", "npipe://")):
            problems.append(
                f"swarm.engines.{node} '{engine}' is not an engine address: use unix:///PATH, "
                "tcp://HOST:PORT or ssh://USER@HOST"
            )
    return problems
