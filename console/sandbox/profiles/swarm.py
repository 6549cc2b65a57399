"""The `swarm` profile: the web profile's service on a real three-node Docker Swarm — three
Docker Engines in network namespaces on this machine (console/sandbox/swarm), one manager and
two workers — each colour a Swarm service of 3 replicas, one per node, its port published in
host mode on every node (this kernel has no IPVS, so no routing mesh). nginx on the host routes
to the replicas at NODE_ADDRESS:PORT over the bed's bridge.

The bed belongs to the sandbox: it lives in `DIR/swarm`, its names derive from the port base
(so two sandboxes on two port bases never meet), `start` brings it up with the stand-in images
on every node, `stop` (from `sandbox down`) removes it entirely. The host's own Docker Engine
builds the images and is never made a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from console.sandbox.images import WEBAPP_REPOSITORY
from console.sandbox.procs import SandboxError
from console.sandbox.profiles.base import (
    DEFAULT_PORT_BASE,
    Context,
    Probe,
    header,
    proxy_switch_notify,
)
from console.sandbox.profiles.web import WebProfile
from console.sandbox.swarm.spec import BedSpec, SwarmBed

REPLICAS = 3  # one per node
BED_DIR = "swarm"
# The bridges of sandboxes' beds: 10.77.1-127.0/24 by port base (the tests' bed is 10.77.0).
SUBNETS = 127


def bed_spec(directory: Path, port_base: int) -> BedSpec:
    """The sandbox's bed, from what `down` still knows when the config is gone."""
    return BedSpec(
        directory / BED_DIR,
        prefix=f"bs{port_base}",
        subnet=f"10.77.{1 + port_base % SUBNETS}",
    )


class SwarmProfile:
    name = "swarm"
    service = "webapp"
    repository = WEBAPP_REPOSITORY
    summary = f"the web service on a real 3-node Docker Swarm ({REPLICAS} replicas a colour)"
    v1_env: Mapping[str, str] = MappingProxyType({"READY_AFTER_SECONDS": "0"})
    probe = Probe("GET", "/")
    secrets = False
    extra_ports: tuple[str, ...] = ()

    def start(self, ctx: Context) -> dict[str, int]:
        from console.sandbox.swarm import BedError, up

        refs = [f"{self.repository}:{tag}" for tag in ("v1", "v2")]
        ctx.say(f"Bringing up a three-node Docker Swarm ({BED_DIR}/ in the sandbox)…")
        try:
            up(_spec(ctx), images=refs, source_host=ctx.docker_host, say=ctx.say)
        except BedError as exc:
            raise SandboxError(str(exc)) from exc
        return {}  # no one pid: `stop` removes the bed by its names

    def stop(self, directory: Path, ports: dict[str, int]) -> None:
        from console.sandbox.swarm import down_at

        left = down_at(directory / BED_DIR)
        if left:
            raise SandboxError(f"The Swarm bed is only partly removed: {'; '.join(left)}.")

    def render_config(self, ctx: Context) -> str:
        # The bed's manager is the runtime's engine; the host's engine only built the images.
        return (
            header(replace(ctx, docker_host=""), ctx.service_name(self.service), self.secrets)
            + self.render_service(ctx)
            + proxy_switch_notify(ctx, "/health")
        )

    def render_service(self, ctx: Context) -> str:
        bed = SwarmBed.of(_spec(ctx))
        engines = ", ".join(f'"{node.name}" = "{node.docker_host}"' for node in bed.nodes)
        return f"""
[runtime]
kind = "swarm"   # each colour a Swarm service; the manager's engine:
docker_host = "{bed.manager.docker_host}"

[swarm]
replicas = {REPLICAS}
max_per_node = 1   # host-mode ports: one task of a colour per node
engines = {{ {engines} }}
""" + WebProfile().render_service(ctx)


def _spec(ctx: Context) -> BedSpec:
    return bed_spec(ctx.directory, ctx.port_base or ctx.ports.proxy or DEFAULT_PORT_BASE)
