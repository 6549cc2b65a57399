"""The agent as systemd runs it, on a real web sandbox: it says READY=1 over $NOTIFY_SOCKET once it
holds the lease, and on SIGTERM finishes its tick, releases the lease, records "Agent stopped."
and exits 0 within seconds (systemd's TimeoutStopSec is 30 s)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.lock import AgentLease
from tests import ports
from tests.integration.fleet_world import build
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PORT_BASE = ports.AGENT_SIGTERM.start


@pytest.fixture(scope="module")
def web() -> Iterator[Sandbox]:
    world = bring_up(profile="web", port_base=PORT_BASE)
    try:
        yield world
    finally:
        tear_down(world.dir)


def _datagrams(server: socket.socket, until: str, timeout: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while until not in got and time.monotonic() < deadline:
        server.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            got.append(server.recv(256).decode())
        except TimeoutError:
            break
    return got


def test_sigterm_stops_the_agent_cleanly(web: Sandbox, tmp_path: Path) -> None:
    stop_agent(web)  # the one `sandbox up` may have started; this test runs its own
    state = web.dir / "state"
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(notify_path))
        agent = subprocess.Popen(
            [sys.executable, "-m", "console", "--config", str(web.config), "agent"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NOTIFY_SOCKET": str(notify_path)},
        )
        try:
            assert _datagrams(server, "READY=1", 60) == ["READY=1"], "no READY=1 from the agent"
            assert json.loads((state / "agent.json").read_text())["pid"] == agent.pid
            time.sleep(3)  # a few ticks in: SIGTERM lands mid-loop, as systemctl stop does
            sent = time.monotonic()
            agent.send_signal(signal.SIGTERM)
            try:
                code = agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                agent.send_signal(signal.SIGUSR1)  # the agent writes every thread's stack
                time.sleep(1)
                agent.kill()
                output, _ = agent.communicate()
                pytest.fail(f"the agent did not stop within 15 s of SIGTERM; its log:\n{output}")
            took = time.monotonic() - sent
            stopping = _datagrams(server, "STOPPING=1", 1)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
    output = agent.stdout.read() if agent.stdout else ""
    assert code == 0, output
    assert took < 5, f"SIGTERM took {took:.1f} s to stop the agent"
    assert "STOPPING=1" in stopping
    assert "Traceback" not in output
    # Released, not just dropped with the process: agent.json gone, and another agent may start.
    assert not (state / "agent.json").exists()
    lease = AgentLease(state)
    assert lease.try_acquire()
    lease.release()
    assert web.status()["agent"]["running"] is False
    events = json.loads(web.cli("history", "--json", "--limit", "20").stdout)["events"]
    texts = [e["text"] for e in events if e["kind"] == "agent"]
    assert "Agent stopped." in texts and "Agent started." in texts
    stopped = max(e["at"] for e in events if e["text"] == "Agent stopped.")
    started = max(e["at"] for e in events if e["text"] == "Agent started.")
    assert stopped > started


def test_sigterm_stops_every_service_of_a_directory(web: Sandbox, tmp_path: Path) -> None:
    """The same for one agent watching two services (a configuration directory): READY=1 once
    both run, and on SIGTERM both record "Agent stopped.", both leases and the host's are
    released, and the process exits 0 within seconds."""
    stop_agent(web)
    second = bring_up(profile="web", port_base=ports.AGENT_SIGTERM_FLEET.start)
    world = build(
        tmp_path / "fleet", {"web-a": web, "web-b": second}, ports.AGENT_SIGTERM_FLEET_METRICS
    )
    notify_path = tmp_path / "notify-fleet.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
            server.bind(str(notify_path))
            agent = world.start_agent(notify_path)
            assert _datagrams(server, "READY=1", 60) == ["READY=1"], world.why()
            for name in ("web-a", "web-b"):
                assert AgentLease(world.state / name).info().pid == agent.pid, name
            time.sleep(3)  # a few ticks in
            code, took = world.stop_agent()
            stopping = _datagrams(server, "STOPPING=1", 1)
        assert code == 0, world.why()
        assert took < 5, f"SIGTERM took {took:.1f} s to stop the agent\n{world.why()}"
        assert "STOPPING=1" in stopping
        assert "Traceback" not in world.log_text()
        assert not AgentLease(world.state).info().running
        for name in ("web-a", "web-b"):
            assert not AgentLease(world.state / name).info().running
            texts = [e["text"] for e in world.events(name) if e["kind"] == "agent"]
            assert texts[-2:] == ["Agent started.", "Agent stopped."], (name, texts)
    finally:
        world.stop_agent()
        tear_down(second.dir)
