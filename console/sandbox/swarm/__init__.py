"""A real multi-node Docker Swarm on this one machine, for the tests and `sandbox up --profile
swarm`: each node is a network namespace on a bridge with its own Docker Engine (own data root,
exec root, socket, hostname, cgroup parent), the first one the manager, the others workers.

    bed = up(BedSpec(Path("/var/tmp/bluegreen-swarm/bgsw")), images=["bluegreen/webapp:v1"])
    bed.manager.docker_host   # unix:///var/tmp/bluegreen-swarm/bgsw/bgsw-n1/docker.sock
    down(bed.spec)            # everything removed; idempotent, also after a crash half-way

The host's own Docker Engine is never made a node and its containers are never touched. This
kernel has no IPVS, so the routing mesh and VIP services do not work here: publish with
`mode=host` or use `--endpoint-mode dnsrr` on an overlay network (../shared/FACTS.md).
`python -m console.sandbox.swarm up|down|down-all` does the same from a shell.
"""

from __future__ import annotations

from console.sandbox.swarm.bed import client, up
from console.sandbox.swarm.engines import kill_engine, start_engine, wait_answering
from console.sandbox.swarm.images import move_images
from console.sandbox.swarm.links import BedError, set_link
from console.sandbox.swarm.spec import BedSpec, SwarmBed, SwarmNode
from console.sandbox.swarm.teardown import down, down_all, down_at

__all__ = [
    "BedError",
    "BedSpec",
    "SwarmBed",
    "SwarmNode",
    "client",
    "down",
    "down_all",
    "down_at",
    "kill_engine",
    "move_images",
    "set_link",
    "start_engine",
    "up",
    "wait_answering",
]
