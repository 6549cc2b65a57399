"""`bluegreen sandbox up --profile swarm`: the web service on a real three-node Docker Swarm of
its own (console/sandbox/profiles/swarm.py), v1 live in blue as 3 replicas, one per node, served
through nginx on the host; `sandbox down` removes the bed entirely and the host's own engine is
never a node."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from console.sandbox.profiles.swarm import REPLICAS, bed_spec
from console.sandbox.swarm import SwarmBed, client
from console.wiring import RUNTIMES
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down
from tests.swarm_bed import bed_traces

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(400),
    pytest.mark.skipif(
        "swarm" not in RUNTIMES, reason="this build has no Swarm runtime ([runtime] kind)"
    ),
]

PORT_BASE = ports.SWARM_SANDBOX.start


@pytest.fixture(scope="module")
def swarm_sandbox() -> Iterator[Sandbox]:
    world = bring_up(profile="swarm", port_base=PORT_BASE)
    try:
        yield world
    finally:
        tear_down(world.dir, strict=False)  # the last test took it down already


def test_up_serves_v1_from_three_replicas_on_three_nodes(swarm_sandbox: Sandbox) -> None:
    status = swarm_sandbox.status()
    assert status["live"] == "blue" and status["slots"]["blue"]["state"] == "live"
    assert swarm_sandbox.served_by() == "blue"
    bed = SwarmBed.of(bed_spec(swarm_sandbox.dir, PORT_BASE))
    manager = client(bed.manager)
    try:
        (blue,) = manager.services.list(filters={"name": f"webapp-{PORT_BASE}-blue"})
        running = [t for t in blue.tasks() if t["Status"]["State"] == "running"]
        assert len(running) == REPLICAS
        assert len({t["NodeID"] for t in running}) == len(bed.nodes)  # one on each node
    finally:
        manager.close()
    host = docker.from_env()
    try:
        assert host.info()["Swarm"]["LocalNodeState"] == "inactive"
    finally:
        host.close()


def test_down_removes_the_bed_entirely(swarm_sandbox: Sandbox) -> None:
    spec = bed_spec(swarm_sandbox.dir, PORT_BASE)
    assert bed_traces(spec) != []
    tear_down(swarm_sandbox.dir)
    assert bed_traces(spec) == []
    assert not swarm_sandbox.dir.exists()
