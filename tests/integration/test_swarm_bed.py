"""The Swarm bed itself (console/sandbox/swarm, tests/swarm_bed.py): three real Docker Engines
in network namespaces, one manager and two workers, reachable the two ways this kernel allows
(host-mode published ports, dnsrr on an overlay), and a `down` that leaves nothing behind —
also of a bed whose `up` was killed half-way — and touches nothing else."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.types
import httpx
import pytest

from console.sandbox.images import WEBAPP_REPOSITORY
from console.sandbox.swarm import BedSpec, SwarmBed, client, down
from console.sandbox.swarm.spec import TEST_DIRECTORY
from tests import ports
from tests.swarm_bed import bed_traces

pytestmark = pytest.mark.integration

IMAGE = f"{WEBAPP_REPOSITORY}:v1"
HANG_GUARD_SECONDS = 90  # generous: only a hang fails this, never a slow machine


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while time.monotonic() < deadline:
        try:
            found = condition()
        except Exception:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} within {HANG_GUARD_SECONDS} s")


@pytest.fixture
def manager(swarm_bed: SwarmBed) -> Iterator[docker.DockerClient]:
    engine = client(swarm_bed.manager)
    yield engine
    engine.close()


def running_tasks(service: Any) -> list[dict[str, Any]]:
    return [t for t in service.tasks() if t["Status"]["State"] == "running"]


def test_three_engines_form_one_swarm_with_one_manager(
    swarm_bed: SwarmBed, manager: docker.DockerClient
) -> None:
    nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in manager.nodes.list()}
    assert sorted(nodes) == sorted(n.name for n in swarm_bed.nodes)
    assert {n["Status"]["State"] for n in nodes.values()} == {"ready"}
    managers = [name for name, n in nodes.items() if n["Spec"]["Role"] == "manager"]
    assert managers == [swarm_bed.manager.name]
    assert nodes[swarm_bed.manager.name]["ManagerStatus"]["Leader"] is True
    for node in swarm_bed.nodes:  # each engine is its own host, at its own address
        engine = client(node)
        try:
            info = engine.info()
        finally:
            engine.close()
        assert (info["Name"], info["Swarm"]["NodeAddr"]) == (node.name, node.address)
        assert info["Swarm"]["LocalNodeState"] == "active"
        assert IMAGE in {tag for image in engine.images.list() for tag in image.tags}
    host = docker.from_env()
    try:
        assert host.info()["Swarm"]["LocalNodeState"] == "inactive"  # never a Swarm node
    finally:
        host.close()


def test_a_global_service_published_in_host_mode_answers_on_every_node(
    swarm_bed: SwarmBed, manager: docker.DockerClient
) -> None:
    port = ports.SWARM_BED_GLOBAL
    service = manager.services.create(
        IMAGE,
        name="bgtest-global",
        mode=docker.types.ServiceMode("global"),
        endpoint_spec=docker.types.EndpointSpec(
            ports=[{"PublishedPort": port, "TargetPort": 8080, "PublishMode": "host"}]
        ),
        env=["READY_AFTER_SECONDS=0"],
        stop_signal="SIGINT",  # Python as PID 1 ignores SIGTERM: 10 s per task otherwise
    )
    try:
        for node in swarm_bed.nodes:
            answer = wait_for(
                lambda n=node: httpx.get(f"http://{n.address}:{port}/version", timeout=2),  # type: ignore[misc]
                f"the global service on {node.name} ({node.address}:{port}) did not answer",
            )
            assert answer.json()["version"] == "v1"
        tasks = wait_for(lambda: running_tasks(service), "no task ran")
        node_ids = {n.id for n in manager.nodes.list()}
        assert sorted(t["NodeID"] for t in tasks) == sorted(node_ids)  # one on each node
    finally:
        service.remove()


def test_a_dnsrr_service_on_an_overlay_resolves_to_every_task_across_nodes(
    swarm_bed: SwarmBed, manager: docker.DockerClient
) -> None:
    network = manager.networks.create("bgtest-dnsrr", driver="overlay", attachable=True)
    service = manager.services.create(
        IMAGE,
        name="bgtest-dnsrr",
        mode=docker.types.ServiceMode("replicated", replicas=3),
        maxreplicas=1,  # one task per node: the names must resolve across nodes
        networks=[network.id],
        endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        env=["READY_AFTER_SECONDS=0"],
        stop_signal="SIGINT",
    )
    worker = client(swarm_bed.workers[-1])
    try:
        tasks = wait_for(
            lambda: (found := running_tasks(service)) and len(found) == 3 and found,
            "three tasks did not run",
        )
        assert len({t["NodeID"] for t in tasks}) == 3
        addresses = {
            address.split("/")[0]
            for task in tasks
            for attachment in task["NetworksAttachments"]
            if attachment["Network"]["ID"] == network.id
            for address in attachment["Addresses"]
        }
        probe = (
            "import json, socket, urllib.request\n"
            "found = socket.gethostbyname_ex('tasks.bgtest-dnsrr')[2]\n"
            "answers = {a: json.load(urllib.request.urlopen(f'http://{a}:8080/version',"
            " timeout=5))['version'] for a in found}\n"
            "print(json.dumps(answers))\n"
        )
        answers = wait_for(
            lambda: json.loads(
                worker.containers.run(
                    IMAGE, ["-c", probe], entrypoint="python3", network=network.name, remove=True
                )
            ),
            "tasks.bgtest-dnsrr did not resolve from a worker",
        )
        assert answers == dict.fromkeys(addresses, "v1")
    finally:
        service.remove()
        # The network is in use until the tasks have gone.
        wait_for(lambda: network.remove() or True, "the overlay network could not be removed")
        worker.close()


def test_down_removes_a_bed_whose_up_was_killed_and_nothing_else(swarm_bed: SwarmBed) -> None:
    spec = BedSpec(TEST_DIRECTORY / "bgswx", prefix="bgswx", subnet="10.77.1")
    host = docker.from_env()
    bystander = host.containers.run(
        IMAGE, name="bgtest-swarm-bystander", detach=True, labels={"bgtest": "swarm-bed"}
    )
    try:
        crashed = subprocess.Popen(
            [sys.executable, "-m", "console.sandbox.swarm", "up", "--prefix", spec.prefix,
             "--subnet", spec.subnet, "--dir", str(spec.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: spec.socket(spec.names[0]).exists(), "the second bed's engines")
        crashed.send_signal(signal.SIGKILL)  # its engines run on, orphaned
        crashed.wait()
        assert bed_traces(spec) != []  # else this test would prove nothing
        assert down(spec) == []
        assert bed_traces(spec) == []
        assert down(spec) == []  # idempotent
        bystander.reload()
        assert bystander.status == "running"  # the host's own containers are left alone
        manager = client(swarm_bed.manager)
        try:  # and so is the other bed
            assert {n.attrs["Status"]["State"] for n in manager.nodes.list()} == {"ready"}
        finally:
            manager.close()
    finally:
        bystander.remove(force=True)
        host.close()
        down(spec)
