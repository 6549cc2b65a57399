"""HAProxy in front of a Swarm colour (issue 25), on the session's real three-node bed: each
colour a section of server slots that the agent fills with its replicas' NODE:PORT over the
runtime API (console/drivers/proxy/haproxy/replicas.py), the switch still one runtime-API line.

As an operator installs it: hand-written bluegreen.toml and haproxy.cfg, `deploy v1` (auto
switch), `deploy v2` into green, `switch` through HAProxy; requests spread over green's three
tasks; a task killed on its node is taken out of HAProxy while it does not answer and put back
once Swarm's replacement passes its checks; a reloaded HAProxy starts with the replicas the agent
wrote down."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.core.config.load import load_config
from console.drivers.proxy import make_proxy
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.haproxy.replicas import Slot
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.swarm import SwarmBed, client
from tests import ports
from tests.integration.swarm_world import swarm_toml, wait_for
from tests.integration.test_swarm_runtime import Install

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PROXY_PORT, BLUE_PORT, GREEN_PORT = ports.SWARM_HAPROXY[0:3]
NAMES = ("swha-e2e-blue", "swha-e2e-green")


def haproxy_toml(bed: SwarmBed, root: Path, haproxy: HaproxyProcess) -> str:
    """The nginx install's bluegreen.toml with HAProxy as its [proxy]."""
    text = swarm_toml(bed, root, (PROXY_PORT, BLUE_PORT, GREEN_PORT), ["true"], NAMES)
    before, _, rest = text.partition("[proxy]\n")
    _, _, after = rest.partition("[switch]\n")
    proxy = (
        '[proxy]\nkind = "haproxy"\n'
        f'include_dir = "{root / "haproxy" / "bluegreen"}"\n'
        f'admin_socket = "{haproxy.admin_socket}"\n'
        f'proxy_url = "http://127.0.0.1:{PROXY_PORT}"\n'
        f'test_command = ["haproxy", "-c", "-q", "-f", "{haproxy.conf_path}"]\n\n'
    )
    # A task of the live colour is killed on purpose below: that is a restart, which the
    # post-switch watch would answer with a rollback (tested elsewhere) — not what is tested here.
    return before + proxy + "[switch]\nauto_rollback = false\n" + after


@pytest.fixture
def install(swarm_bed: SwarmBed) -> Iterator[tuple[Install, HaproxyDriver, HaproxyProcess]]:
    root = Path(tempfile.mkdtemp(prefix="bg-swha-", dir="/var/tmp"))
    sock_dir = Path(tempfile.mkdtemp(prefix="swha-", dir="/tmp"))  # ≤ 107 bytes
    haproxy = HaproxyProcess(root / "haproxy", PROXY_PORT, sock_dir / "admin.sock")
    world = Install(swarm_bed, root)
    world.names = NAMES
    world.config.write_text(haproxy_toml(swarm_bed, root, haproxy))
    driver = make_proxy(load_config(str(world.config)))
    assert isinstance(driver, HaproxyDriver) and driver.peers
    haproxy.write_conf(driver.backend_section(), driver.backend)
    try:
        haproxy.start()
        code, out = world.cli("proxy", "install")
        assert code == 0, out
        yield world, driver, haproxy
    finally:
        try:
            world.tear_down()
        finally:
            haproxy.stop()
            shutil.rmtree(sock_dir, ignore_errors=True)


def in_use(driver: HaproxyDriver, color: str) -> list[Slot]:
    return [slot for slot in driver.colour_slots(color) if slot.in_use]  # type: ignore[arg-type]


def served_per_slot(driver: HaproxyDriver, section: str) -> dict[str, int]:
    """HAProxy's own count of requests each slot served (`show stat`, stot)."""
    answer = driver.runtime(f"show stat {section} 4 -1 json")
    rows = json.loads(answer)
    counts: dict[str, int] = {}
    for row in rows:
        fields = {f["field"]["name"]: f["value"]["value"] for f in row}
        if fields.get("svname", "").startswith("task"):
            counts[fields["svname"]] = int(fields.get("stot", 0))
    return counts


def green_tasks(world: Install) -> list[dict[str, Any]]:
    replicas = world.status()["slots"]["green"]["replicas"]
    return [t for t in replicas["tasks"] if t["counted"]]


def test_haproxy_switches_between_the_colours_task_sets_and_follows_a_killed_task(
    swarm_bed: SwarmBed, install: tuple[Install, HaproxyDriver, HaproxyProcess]
) -> None:
    world, driver, haproxy = install
    code, out = world.cli("deploy", "v1", "--switch", "auto", "--wait", "--timeout", "150")
    assert code == 0, out
    endpoints = sorted(f"{node.address}:{{}}" for node in swarm_bed.nodes)
    blue_at = sorted(e.format(BLUE_PORT) for e in endpoints)
    wait_for("blue's three replicas in HAProxy", lambda: _endpoints(driver, "blue") == blue_at, 30)

    code, out = world.cli("deploy", "v2", "--switch", "never", "--wait", "--timeout", "150")
    assert code == 0, out
    green_at = sorted(e.format(GREEN_PORT) for e in endpoints)
    wait_for("green's replicas in HAProxy", lambda: _endpoints(driver, "green") == green_at, 30)
    with httpx.Client(trust_env=False, timeout=5) as web:
        assert "webapp v1" in web.get(f"http://127.0.0.1:{PROXY_PORT}/").text  # still blue

        code, out = world.cli("switch", "--yes")
        assert code == 0, out
        before = served_per_slot(driver, "bluegreen_green")
        for _ in range(30):
            response = web.get(f"http://127.0.0.1:{PROXY_PORT}/")
            assert response.status_code == 200 and "webapp v2" in response.text
            assert response.headers["X-Bluegreen-Color"] == "green"
        after = served_per_slot(driver, "bluegreen_green")
        spread = {s.name: s.endpoint for s in in_use(driver, "green")}
        served = {spread[n]: after[n] - before.get(n, 0) for n in spread}
        assert sorted(served) == green_at and all(n >= 5 for n in served.values()), served

        # A task killed on its node: out of HAProxy while it does not answer, back (a new
        # task, Swarm's replacement) once it passes its checks.
        victim = next(t for t in green_tasks(world) if t["node"] != swarm_bed.manager.name)
        manager, engine = client(swarm_bed.manager), client(swarm_bed.node(victim["node"]))
        try:
            container = manager.api.inspect_task(victim["id"])["Status"]["ContainerStatus"]
            engine.api.kill(container["ContainerID"])
        finally:
            manager.close()
            engine.close()
        wait_for(
            f"{victim['endpoint']} taken out of HAProxy",
            lambda: victim["endpoint"] not in _endpoints(driver, "green"),
            30,
            0.2,
        )
        assert web.get(f"http://127.0.0.1:{PROXY_PORT}/").status_code == 200  # the other two
        wait_for(
            "green's three replicas again", lambda: _endpoints(driver, "green") == green_at, 90
        )
        replaced = {t["node"]: t["id"] for t in green_tasks(world)}
        assert replaced[victim["node"]] != victim["id"]  # Swarm's new task, now routed

    # A reload forgets runtime changes: HAProxy starts again from the files, in which the agent
    # wrote down green's replicas, so green answers at once — with the agent stopped, so no
    # resend of its can be what answers (without the file: 503 until its next resend).
    installed = driver.backend_path.read_text()  # the file HAProxy loads with a second -f
    assert all(f" {endpoint}\n" in installed for endpoint in green_at), installed
    agent = json.loads((world.dir / "state" / "agent.json").read_text())["pid"]
    os.kill(agent, signal.SIGSTOP)
    try:
        haproxy.write_conf(driver.backend_section(), driver.backend)
        old_workers = haproxy.worker_pids()
        master = haproxy.master_pid()
        assert master is not None
        os.kill(master, signal.SIGUSR2)
        wait_for("HAProxy reloaded", lambda: haproxy.worker_pids() not in ([], old_workers), 10)
        with httpx.Client(trust_env=False, timeout=5) as fresh:  # the old worker's are closed
            for _ in range(6):
                response = fresh.get(f"http://127.0.0.1:{PROXY_PORT}/")
                ok = response.status_code == 200 and "webapp v2" in response.text
                assert ok, f"{response.text[:120]}\n{what_haproxy_runs(haproxy, driver)}"
        assert _endpoints(driver, "green") == green_at
    finally:
        os.kill(agent, signal.SIGCONT)
    code, out = world.cli("config", "check")
    assert code == 0 and f"each at its node's address:{GREEN_PORT}" in out, out
    assert f"127.0.0.1:{GREEN_PORT}" not in out, out


def _endpoints(driver: HaproxyDriver, color: str) -> list[str]:
    return sorted(slot.endpoint for slot in in_use(driver, color))


def what_haproxy_runs(haproxy: HaproxyProcess, driver: HaproxyDriver) -> str:
    """For a failure's message: the live colour written down, the servers HAProxy was started
    with, and its log's end."""
    servers = [ln for ln in haproxy.conf_path.read_text().splitlines() if "server " in ln]
    log = haproxy.log_path.read_text() if haproxy.log_path.exists() else ""
    return (
        f"state file: {driver.persisted()}; servers: {servers}; "
        f"runtime: {driver.runtime(f'show servers state {driver.backend}')}\nlog: {log[-1500:]}"
    )
