"""Crash consistency with several services (issue 23, Reliability): two services of the fleet
sandbox (web and evm, behind one nginx) switch at the same moment while SIGKILL lands at random
in their `switch` commands and in the one agent that watches both. After each trial, with the
agent (restarted if it was killed) as the only repair, every service must agree within 5 s:
its store's live colour = its running proxy's = its persisted include = `status --json` = the
colour its clients are served. The single-service form: test_chaos.py (bench/chaos.py).
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.config.fleet import load_fleet
from console.core.store.store import Store
from console.drivers.proxy import make_proxy
from tests import ports
from tests.integration.agent_fleet_world import FleetWorld, bring_up_fleet
from tests.integration.sandbox_fixture import tear_down

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

SWITCHING = ("web", "evm")
TRIALS = 8
AGREE_WITHIN_SECONDS = 5.0


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetWorld]:
    # Reliability modules run alone (tests/conftest.py): the agent-fleet module's ports are free.
    world = bring_up_fleet(ports.AGENT_FLEET.start)
    try:
        world.start_agent()
        deploys = [
            subprocess.Popen(
                _argv(
                    world, name, "deploy", "v2", "--switch", "never", "--wait", "--timeout", "180"
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            for name in SWITCHING
        ]
        for deploy in deploys:
            output, _ = deploy.communicate(timeout=240)
            assert deploy.returncode == 0, output
        yield world
    finally:
        world.stop_agent()
        print(world.why())
        tear_down(world.sandbox.dir)


def _argv(world: FleetWorld, name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "console", "--config", str(world.dir), "-s", name, *args]


def _view(world: FleetWorld, name: str) -> dict[str, object]:
    """Every place that says which colour is live for `name`."""
    config = load_fleet(str(world.dir)).service(name)
    proxy = make_proxy(config)
    store = Store.open_read_only(Path(config.state_dir))
    try:
        live = store.live()
    finally:
        store.close()
    return {
        "store": live,
        "proxy": proxy.current(),
        "file": proxy.persisted(),
        "status": world.status(name)["live"],
        "served": sorted({str(world.sandbox.served_by(name)) for _ in range(10)}),
    }


def _agrees(view: dict[str, object]) -> bool:
    live = view["store"]
    return (
        live is not None
        and view["proxy"] == view["file"] == view["status"] == live
        and view["served"] == [live]
    )


def test_sigkills_while_two_services_switch_leave_every_service_agreeing(
    fleet: FleetWorld,
) -> None:
    rng = random.Random(23)
    disagreements: list[str] = []
    killed = {"switch": 0, "agent": 0, "mid-switch": 0}
    slowest = 0.0
    for trial in range(TRIALS):
        switches = {
            name: subprocess.Popen(
                _argv(fleet, name, "switch", "--yes", "--force"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            for name in SWITCHING
        }
        kill_agent = rng.random() < 0.5
        victims = [name for name in SWITCHING if rng.random() < 0.6]
        time.sleep(rng.uniform(0.3, 1.6))  # a CLI's start is ~1 s: kills land around the switch
        for name in victims:
            if switches[name].poll() is None:
                killed["mid-switch"] += 1
            switches[name].send_signal(signal.SIGKILL)
            killed["switch"] += 1
        if kill_agent and fleet.agent is not None:
            fleet.agent.send_signal(signal.SIGKILL)
            fleet.agent.wait(10)
            killed["agent"] += 1
        for process in switches.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(60)
        if kill_agent:
            fleet.start_agent()  # reconciles every service as it starts
        started = time.monotonic()
        for name in SWITCHING:
            view = _view(fleet, name)
            while not _agrees(view) and time.monotonic() - started < AGREE_WITHIN_SECONDS:
                time.sleep(0.25)
                view = _view(fleet, name)
            if not _agrees(view):
                disagreements.append(f"trial {trial}: {name} {view}")
        slowest = max(slowest, time.monotonic() - started)
        lives = ", ".join(f"{name} {_view(fleet, name)['store']}" for name in SWITCHING)
        agent = " + the agent" if kill_agent else ""
        print(f"trial {trial}: killed {victims or 'no switch'}{agent}; live: {lives}")
    print(
        f"{TRIALS} trials, SIGKILLs: {killed['switch']} switch commands "
        f"({killed['mid-switch']} still running), {killed['agent']} agents; slowest agreement "
        f"{slowest:.2f} s; disagreements: {len(disagreements)}"
    )
    assert disagreements == [], "\n".join(disagreements) + "\n" + fleet.why()
    assert killed["agent"] >= 2 and killed["mid-switch"] >= 2  # the kills did land
