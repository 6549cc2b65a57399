"""Bringing a Swarm bed up: the network, one Docker Engine per node (all starting at once), the
Swarm (`init` on the first node, the others joined as workers, all Ready), and the images the
caller names on every node. Whatever fails half-way, everything made so far is removed before
the error is raised; a bed a crashed run left with the same spec is removed first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from console.core.fsutil import atomic_write
from console.sandbox.swarm.engines import start_engine, wait_answering
from console.sandbox.swarm.images import move_images
from console.sandbox.swarm.links import BedError, add_bridge, add_node_link
from console.sandbox.swarm.spec import RECORD_FILE, RECORDS, BedSpec, SwarmBed, record_path
from console.sandbox.swarm.teardown import down

ENGINE_START_SECONDS = 60  # a loaded CI machine; here each engine answers in under a second
NODES_READY_SECONDS = 60
SWARM_PORT = 2377


def up(
    spec: BedSpec,
    images: Sequence[str] = (),
    source_host: str = "",
    say: Callable[[str], None] = print,
) -> SwarmBed:
    """Bring bed `spec` up with `images` (on `source_host`'s engine, "" = the local one) on every
    node; print each phase's time."""
    if os.geteuid() != 0:
        raise BedError(
            "A Swarm bed needs root (network namespaces, iptables, its engines' mounts): run it "
            "as root or with sudo."
        )
    started = time.monotonic()
    down(spec)  # a crashed run's bed with the same names, if any
    RECORDS.mkdir(mode=0o755, parents=True, exist_ok=True)
    spec.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    atomic_write(record_path(spec.prefix), spec.record())
    atomic_write(spec.directory / RECORD_FILE, spec.record())
    bed = SwarmBed.of(spec)
    try:
        add_bridge(spec.bridge, spec.gateway)
        for node in bed.nodes:
            add_node_link(spec.bridge, node.name, node.address)
        for node in bed.nodes:
            start_engine(node.name, node.directory, spec.dockerd_args)
        for node in bed.nodes:
            wait_answering(node.name, spec.socket(node.name), ENGINE_START_SECONDS)
        engines = time.monotonic() - started
        _form_swarm(bed)
        swarm = time.monotonic() - started - engines
        moved = move_images(bed.nodes, images, spec.directory, source_host, say)
    except BaseException:
        down(spec)
        raise
    seconds = time.monotonic() - started
    say(
        f"Swarm bed {spec.prefix} up in {seconds:.1f} s: {len(bed.nodes)} engines "
        f"{engines:.1f} s, swarm {swarm:.1f} s, images {moved:.1f} s; manager "
        f"{bed.manager.name} {bed.manager.address}, workers "
        + ", ".join(f"{w.name} {w.address}" for w in bed.workers)
        + "."
    )
    return SwarmBed(spec, bed.nodes, seconds)


def client(node_or_host: Any, timeout: int = 30) -> Any:
    """A Docker SDK client for a node (a SwarmNode, or its docker_host)."""
    import docker

    host = getattr(node_or_host, "docker_host", node_or_host)
    return docker.DockerClient(base_url=host, timeout=timeout)


def _form_swarm(bed: SwarmBed) -> None:
    """`swarm init` on the manager, the workers joined, and every node Ready."""
    import docker.errors

    manager = client(bed.manager)
    try:
        options: dict[str, Any] = {}
        if bed.spec.heartbeat_seconds:
            options["dispatcher_heartbeat_period"] = int(bed.spec.heartbeat_seconds * 1e9)
        try:
            manager.swarm.init(
                advertise_addr=bed.manager.address,
                listen_addr=f"{bed.manager.address}:{SWARM_PORT}",
                default_addr_pool=[bed.spec.overlay_pool],
                subnet_size=24,
                **options,
            )
            manager.swarm.reload()
            token = manager.swarm.attrs["JoinTokens"]["Worker"]
            for worker in bed.workers:
                joining = client(worker)
                try:
                    joining.swarm.join(
                        remote_addrs=[f"{bed.manager.address}:{SWARM_PORT}"],
                        join_token=token,
                        advertise_addr=worker.address,
                        listen_addr=f"{worker.address}:{SWARM_PORT}",
                    )
                finally:
                    joining.close()
        except docker.errors.APIError as exc:
            raise BedError(
                f"The Swarm could not be formed: {exc.explanation or exc}. See each node's "
                f"dockerd.log under {bed.spec.directory}."
            ) from exc
        deadline = time.monotonic() + NODES_READY_SECONDS
        while time.monotonic() < deadline:
            states = {
                n.attrs["Description"]["Hostname"]: n.attrs["Status"]["State"]
                for n in manager.nodes.list()
            }
            if len(states) == len(bed.nodes) and set(states.values()) == {"ready"}:
                return
            time.sleep(0.1)
        raise BedError(
            f"Not every node of the Swarm became Ready within {NODES_READY_SECONDS} s "
            f"({states}); see each node's dockerd.log under {bed.spec.directory}."
        )
    finally:
        manager.close()
