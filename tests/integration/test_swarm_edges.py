"""Two edge proxies in front of a Swarm colour (issue 25.3), on the session's real three-node
bed: nginx in live mode (`[proxy]`, the default edge) and HAProxy (`[[proxy.edges]]`), both on
loopback. The agent's replica watch hands each colour's task list to the edge set, which sends
it to every edge in parallel (console/drivers/proxy/edges/composite.py, `set_peers`).

As an operator installs it: `deploy v1` (auto switch), `deploy v2`, `switch`; requests through
EACH edge reach green's three tasks; a task killed on its node is left out on both edges; with
nginx SIGSTOPped, a node drained (a lasting change of the task set) is left out on HAProxy all
the same, and on nginx once it is resumed (the agent sends the list again on its next tick)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.core.config.load import load_config
from console.drivers.proxy import make_proxy
from console.drivers.proxy.edges.composite import EdgeSet
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.nginx.live import NginxLiveDriver
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.procs import child_pids
from console.sandbox.swarm import SwarmBed, client
from tests import ports
from tests.integration.edges_world import pause, resume
from tests.integration.proxy_helpers import operator_nginx_conf
from tests.integration.swarm_world import swarm_toml, wait_for
from tests.integration.test_swarm_haproxy import in_use, served_per_slot
from tests.integration.test_swarm_runtime import Install

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NGINX_PORT, HAPROXY_PORT, BLUE_PORT, GREEN_PORT = ports.SWARM_EDGES
NAMES = ("swedge-blue", "swedge-green")


def edges_toml(bed: SwarmBed, root: Path, haproxy: HaproxyProcess, argv: list[str]) -> str:
    """nginx live as `[proxy]`, HAProxy as a second edge; no rollback when a task is killed."""
    text = swarm_toml(bed, root, (NGINX_PORT, BLUE_PORT, GREEN_PORT), argv, NAMES)
    edge = (
        '[[proxy.edges]]\nname = "edge-h"\nkind = "haproxy"\n'
        f'proxy_url = "http://127.0.0.1:{HAPROXY_PORT}"\n'
        f'admin_socket = "{haproxy.admin_socket}"\n'
        f'include_dir = "{root / "haproxy" / "bluegreen"}"\n'
        f'test_command = ["haproxy", "-c", "-q", "-f", "{haproxy.conf_path}"]\n\n'
    )
    return text.replace("[switch]\n", edge + "[switch]\nauto_rollback = false\n")


class Edges:
    """The install and its two edges: nginx (via its own requests) and HAProxy (its slots)."""

    def __init__(self, world: Install, haproxy: HaproxyProcess, driver: HaproxyDriver) -> None:
        self.world = world
        self.haproxy = haproxy
        self.driver = driver

    def nginx_upstreams(self, requests: int = 15) -> list[list[str]]:
        """Each request's `$upstream_addr` through nginx: every replica it tried, in order."""
        tried = []
        with httpx.Client(trust_env=False, timeout=5) as web:
            for _ in range(requests):
                response = web.get(f"http://127.0.0.1:{NGINX_PORT}/")
                assert response.status_code == 200 and "webapp v2" in response.text
                tried.append(response.headers["X-Upstream"].split(", "))
        return tried

    def haproxy_green(self) -> list[str]:
        return sorted(slot.endpoint for slot in in_use(self.driver, "green"))


@pytest.fixture
def edges(swarm_bed: SwarmBed) -> Iterator[Edges]:
    root = Path(tempfile.mkdtemp(prefix="bg-swedge-", dir="/var/tmp"))
    sock_dir = Path(tempfile.mkdtemp(prefix="swedge-", dir="/tmp"))  # ≤ 107 bytes
    haproxy = HaproxyProcess(root / "haproxy", HAPROXY_PORT, sock_dir / "admin.sock")
    world = Install(swarm_bed, root)
    world.names = NAMES
    world.config.write_text(edges_toml(swarm_bed, root, haproxy, world.nginx_argv))
    proxy = make_proxy(load_config(str(world.config)))
    assert isinstance(proxy, EdgeSet)
    nginx, driver = (edge.driver for edge in proxy.edges)
    assert isinstance(nginx, NginxLiveDriver) and isinstance(driver, HaproxyDriver)
    haproxy.write_conf(driver.backend_section(), driver.backend)
    conf = operator_nginx_conf(nginx.snippet(), world.nginx_dir, NGINX_PORT, workers=1)
    # Which replica served each request (and which were tried before it), for the test only.
    location = conf.index("location / {\n") + len("location / {\n")
    header = "            add_header X-Upstream $upstream_addr always;\n"
    world.nginx_conf.write_text(conf[:location] + header + conf[location:])
    try:
        haproxy.start()
        code, out = world.cli("proxy", "install")
        assert code == 0, out
        log = (world.nginx_dir / "logs" / "stderr.log").open("ab")
        with log:
            world.nginx = subprocess.Popen(world.nginx_argv, stdout=log, stderr=log)
        wait_for("nginx answering", lambda: answers(NGINX_PORT), 10, 0.05)
        yield Edges(world, haproxy, driver)
    finally:
        try:
            if world.nginx is not None:
                resume([world.nginx.pid, *child_pids(world.nginx.pid)])
            world.tear_down()
        finally:
            haproxy.stop()
            shutil.rmtree(sock_dir, ignore_errors=True)


def answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        return True
    except httpx.HTTPError:
        return False


def test_every_edge_follows_the_colours_task_sets(swarm_bed: SwarmBed, edges: Edges) -> None:
    world = edges.world
    code, out = world.cli("deploy", "v1", "--switch", "auto", "--wait", "--timeout", "150")
    assert code == 0, out
    code, out = world.cli("deploy", "v2", "--switch", "never", "--wait", "--timeout", "150")
    assert code == 0, out
    green_at = sorted(f"{node.address}:{GREEN_PORT}" for node in swarm_bed.nodes)
    wait_for("green's replicas on HAProxy", lambda: edges.haproxy_green() == green_at, 30)
    code, out = world.cli("switch", "--yes")
    assert code == 0, out

    # Through EACH edge, requests reach all three of green's tasks.
    served = {tried[-1] for tried in edges.nginx_upstreams(30)}
    assert sorted(served) == green_at, served
    before = served_per_slot(edges.driver, "bluegreen_green")
    with httpx.Client(trust_env=False, timeout=5) as web:
        for _ in range(30):
            response = web.get(f"http://127.0.0.1:{HAPROXY_PORT}/")
            assert response.status_code == 200 and "webapp v2" in response.text
    after = served_per_slot(edges.driver, "bluegreen_green")
    slots = {s.name: s.endpoint for s in in_use(edges.driver, "green")}
    by_endpoint = {slots[n]: after[n] - before.get(n, 0) for n in slots}
    assert sorted(by_endpoint) == green_at and all(n > 0 for n in by_endpoint.values())

    # A task killed on its node: left out on both edges (one list, sent to both at once).
    victim = next(n for n in swarm_bed.nodes if n.name != swarm_bed.manager.name)
    victim_at = f"{victim.address}:{GREEN_PORT}"
    kill_green_task_on(swarm_bed, victim.name)
    wait_for(
        f"{victim_at} left out on both edges",
        lambda: (
            victim_at not in edges.haproxy_green()
            and not any(victim_at in tried for tried in edges.nginx_upstreams(10))
        ),
        30,
        0.1,
    )
    wait_for("green's three replicas again", lambda: edges.haproxy_green() == green_at, 90)
    wait_for(
        "nginx on green's three replicas again",
        lambda: {t[-1] for t in edges.nginx_upstreams(15)} == set(green_at),
        30,
    )

    # nginx stopped while a node is drained: HAProxy leaves that node out all the same; nginx
    # does once it is resumed (the agent sends the list again on its next tick).
    drained = next(
        n for n in swarm_bed.nodes if n.name not in (swarm_bed.manager.name, victim.name)
    )
    drained_at = f"{drained.address}:{GREEN_PORT}"
    assert world.nginx is not None
    stopped = [world.nginx.pid, *child_pids(world.nginx.pid)]
    pause(stopped)
    try:
        set_availability(swarm_bed, drained.name, "drain")
        wait_for(
            f"{drained_at} left out on HAProxy with nginx stopped",
            lambda: edges.haproxy_green() == [e for e in green_at if e != drained_at],
            45,
        )
    finally:
        resume(stopped)
    try:
        wait_for(
            f"{drained_at} left out on nginx once resumed",
            lambda: not any(drained_at in tried for tried in edges.nginx_upstreams(15)),
            30,
        )
    finally:
        set_availability(swarm_bed, drained.name, "active")


def kill_green_task_on(bed: SwarmBed, node: str) -> None:
    manager, engine = client(bed.manager), client(bed.node(node))
    try:
        service = manager.api.inspect_service(NAMES[1])
        tasks = manager.api.tasks(filters={"service": service["ID"], "desired-state": "running"})
        node_id = manager.api.inspect_node(node)["ID"]
        task = next(t for t in tasks if t["NodeID"] == node_id)
        engine.api.kill(task["Status"]["ContainerStatus"]["ContainerID"])
    finally:
        manager.close()
        engine.close()


def set_availability(bed: SwarmBed, node: str, availability: str) -> None:
    """`docker node update --availability`: a drained node's task is moved (nowhere, here:
    one task per node), a lasting change of the colour's task set until it is active again."""
    manager = client(bed.manager)
    try:
        spec = manager.api.inspect_node(node)
        manager.api.update_node(
            node, spec["Version"]["Index"], {**spec["Spec"], "Availability": availability}
        )
    finally:
        manager.close()
