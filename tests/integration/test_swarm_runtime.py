"""Issue 25 on a real three-node Swarm (console/sandbox/swarm): a colour is a service of three
tasks, one per node, each at NODE_ADDRESS:PORT (host mode: no routing mesh here).

- As an operator installs it: nginx in live mode, `deploy` into the idle colour's service only
  (the live one's spec and tasks unchanged), ready with all three replicas, `switch` through
  nginx to the new colour's three endpoints.
- The agent's own SlotWatch: ready only when all three run and each answers its ready check; a
  node whose engine is killed is named and never counted, and the gate is earned again once its
  task is rescheduled."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker.errors
import httpx
import pytest

from console.agent.samplers import sample_round
from console.agent.slot_watch import SlotWatch
from console.cli.render import slot_json
from console.core.model import SlotState, SlotStatus
from console.core.redact import Redactor
from console.drivers.swarm.runtime import SwarmRuntime
from console.sandbox.swarm import SwarmBed, client, kill_engine, start_engine, wait_answering
from tests import ports
from tests.integration.proxy_helpers import operator_nginx_conf
from tests.integration.swarm_world import (
    swarm_config,
    swarm_toml,
    wait_for,
    web_spec,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

PROXY_PORT, BLUE_PORT, GREEN_PORT = ports.SWARM_RUNTIME[0:3]
# The node-failure test's own ports: the switch test's tasks may still be stopping on theirs.
FAILOVER_PORTS = (ports.SWARM_RUNTIME[3], ports.SWARM_RUNTIME[4])


@pytest.fixture
def bed(swarm_bed: SwarmBed) -> SwarmBed:
    """The session's three-node bed (tests/swarm_bed.py); this module's names start "swrt"."""
    return swarm_bed


def answers_ready(endpoint: str) -> bool:
    try:
        return httpx.get(f"http://{endpoint}/api/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class Install:
    """A hand-written install in front of the bed: bluegreen.toml, nginx.conf, the CLI."""

    def __init__(self, bed: SwarmBed, root: Path) -> None:
        self.bed = bed
        self.dir = root
        self.nginx_dir = root / "nginx"
        (self.nginx_dir / "logs").mkdir(parents=True)
        self.nginx_conf = self.nginx_dir / "nginx.conf"
        self.config = root / "bluegreen.toml"
        self.names = ("swrt-e2e-blue", "swrt-e2e-green")
        argv = ["nginx", "-p", str(self.nginx_dir), "-c", str(self.nginx_conf)]
        self.nginx_argv = argv
        self.config.write_text(
            swarm_toml(bed, root, (PROXY_PORT, BLUE_PORT, GREEN_PORT), argv, self.names)
        )
        self.nginx: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 240) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "console", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode, done.stdout + done.stderr

    def status(self) -> dict[str, Any]:
        code, out = self.cli("status", "--json")
        assert code == 0, out
        return json.loads(out)  # type: ignore[no-any-return]

    def start_nginx(self) -> None:
        code, snippet = self.cli("proxy", "snippet")
        assert code == 0, snippet
        self.nginx_conf.write_text(
            operator_nginx_conf(snippet, self.nginx_dir, PROXY_PORT, workers=2, connections=256)
        )
        code, out = self.cli("proxy", "install")
        assert code == 0, out
        log = (self.nginx_dir / "logs" / "stderr.log").open("ab")
        with log:
            self.nginx = subprocess.Popen(self.nginx_argv, stdout=log, stderr=log)
        wait_for("nginx answering", lambda: self.get() is not None, 10, 0.05)

    def get(self) -> httpx.Response | None:
        try:
            with httpx.Client(trust_env=False, timeout=3) as client:
                return client.get(f"http://127.0.0.1:{PROXY_PORT}/")
        except httpx.HTTPError:
            return None

    def tear_down(self) -> None:
        agent = self.dir / "state" / "agent.json"
        if agent.exists():
            with contextlib.suppress(OSError, ValueError, KeyError):
                os.kill(json.loads(agent.read_text())["pid"], signal.SIGTERM)
            wait_for("the agent gone", lambda: not agent.exists(), 15, 0.1)
        manager = client(self.bed.manager)
        try:
            for name in self.names:
                with contextlib.suppress(docker.errors.NotFound):
                    manager.api.remove_service(name)
        finally:
            manager.close()
        if self.nginx is not None:
            self.nginx.send_signal(signal.SIGQUIT)
            self.nginx.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)


def service_version(bed: SwarmBed, name: str) -> tuple[int, frozenset[str]]:
    """The service's spec version and its running tasks: what any change to it would move."""
    manager = client(bed.manager)
    try:
        service = manager.api.inspect_service(name)
        tasks = manager.api.tasks(filters={"service": service["ID"], "desired-state": "running"})
        return int(service["Version"]["Index"]), frozenset(t["ID"] for t in tasks)
    finally:
        manager.close()


def test_deploy_to_the_idle_colour_s_service_and_switch_through_nginx_live(
    bed: SwarmBed,
) -> None:
    install = Install(bed, Path(tempfile.mkdtemp(prefix="bg-swrt-", dir="/var/tmp")))
    try:
        install.start_nginx()
        code, out = install.cli("deploy", "v1", "--switch", "auto", "--wait", "--timeout", "150")
        assert code == 0, out
        status = install.status()
        assert status["live"] == "blue"
        blue = status["slots"]["blue"]["replicas"]
        assert blue["running"] == 3 and len(blue["nodes"]) == 3, blue
        live_before = service_version(bed, install.names[0])

        code, out = install.cli("deploy", "v2", "--switch", "never", "--wait", "--timeout", "150")
        assert code == 0, out
        green = install.status()["slots"]["green"]
        assert green["ready"] and green["replicas"]["healthy"] == 3, green
        assert service_version(bed, install.names[0]) == live_before  # the live one untouched

        code, out = install.cli("logs", "green")  # every task's lines, through the manager
        assert code == 0 and out.count("webapp v2 listening") == 3, out
        # Resources: each task's stats stream on its node's engine ([swarm] engines), summed.
        memory = wait_for(
            "green's resources",
            lambda: (install.status()["slots"]["green"]["resources"] or {}).get("memory_bytes"),
            30,
        )
        assert isinstance(memory, int) and memory > 0

        code, out = install.cli("switch", "--yes")
        assert code == 0, out
        for _ in range(30):  # spread over green's three replicas by the balancer
            response = install.get()
            assert response is not None and response.status_code == 200
            assert response.headers["X-Bluegreen-Color"] == "green"
            assert "webapp v2" in response.text
        shown = install.status()["slots"]["green"]["replicas"]
        assert sorted(t["endpoint"] for t in shown["tasks"] if t["counted"]) == sorted(
            f"{node.address}:{GREEN_PORT}" for node in bed.nodes
        )
    finally:
        install.tear_down()


def test_ready_only_with_every_replica_and_again_after_a_killed_node_s_task_is_rescheduled(
    bed: SwarmBed, tmp_path: Path
) -> None:
    config = swarm_config(bed, tmp_path, FAILOVER_PORTS)
    runtime = SwarmRuntime(config.runtime.docker_host, config.swarm)
    runtime.start(web_spec(config, "green", "v2"))
    watch = SlotWatch(config, "green", lambda: runtime, Redactor())
    seen: list[SlotStatus] = []
    victim, killed = bed.workers[-1], False

    def tick() -> SlotStatus:
        sample_round(watch.samplers(), budget_seconds=10.0)
        status = watch.observe(time.time(), None, "blue", None, None)
        assert status.state != SlotState.FAILED, status.reason
        if status.ready:  # never premature: three tasks on three nodes, each answering now
            assert status.replicas is not None
            counted = [t for t in status.replicas.tasks if t.counted]
            assert len(counted) == 3 and len({t.node for t in counted}) == 3, counted
            assert all(t.healthy for t in counted)
            assert all(answers_ready(t.endpoint) for t in counted), counted
        seen.append(status)
        return status

    try:
        wait_for("green ready on three replicas", lambda: tick().ready, 120)
        assert any(not s.ready and s.replicas is not None for s in seen)  # earned, not given
        ready = seen[-1]
        assert ready.replicas is not None
        shown = slot_json(ready)["replicas"]
        assert shown["desired"] == 3 and shown["running"] == 3 and len(shown["nodes"]) == 3
        before = {t.node: t.id for t in ready.replicas.tasks if t.counted}

        assert victim.name in before
        kill_engine(victim.name, victim.directory)  # the host dies: engine, shims, containers
        killed = True
        down = wait_for("green not ready", lambda: not tick().ready, 60)
        assert down
        # Said with the node's name (its task no longer answers, then the node is down).
        try:
            wait_for(
                f"status naming {victim.name} down",
                lambda: f"node {victim.name} is down" in summary(tick()),
                60,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; green's replicas: {seen[-1].replicas}") from None
        replicas = next(c for c in seen[-1].conditions if c.name == "replicas")
        assert f"node {victim.name} is down" in replicas.detail and not replicas.met, replicas
        assert seen[-1].replicas is not None and seen[-1].replicas.running == 2

        start_engine(victim.name, victim.directory)  # the host comes back
        killed = False
        wait_answering(victim.name, Path(victim.socket), 60)
        wait_for("green ready again", lambda: tick().ready, 180)
        again = seen[-1].replicas
        assert again is not None
        after = {t.node: t.id for t in again.tasks if t.counted}
        assert set(after) == set(before)
        assert after[victim.name] != before[victim.name]  # a new task, rescheduled there
    finally:
        if killed:  # the session's bed is shared: mend it whatever happened
            start_engine(victim.name, victim.directory)
            wait_answering(victim.name, Path(victim.socket), 60)
        watch.close()
        runtime.remove(config.slots["green"].container)


def summary(status: SlotStatus) -> str:
    return status.replicas.summary() if status.replicas is not None else ""
