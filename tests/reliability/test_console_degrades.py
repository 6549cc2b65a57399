"""The console while its parts fail, watched on screen: PostgreSQL stopped, then the Docker daemon
stopped. The panels say what is wrong, the app keeps answering keys, and both recover when the
part comes back. (The agent-level checks are in test_failing_parts.py.)"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.core.config.load import load_config
from console.core.model import SlotState
from console.tui.app import BluegreenApp
from console.tui.widgets.log_pane import LogPane
from console.wiring import open_console
from tests.reliability.conftest import World

pytestmark = [pytest.mark.integration, pytest.mark.tui, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
SIZE = (120, 40)


async def wait_for(
    pilot: Pilot[int], what: str, check: Callable[[], bool], seconds: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        await pilot.pause(0.2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def shown_reason(app: BluegreenApp, color: str) -> str:
    """The panel's reason line as drawn, or "" when the panel shows none."""
    line = app.main.query_one(f"#{color}-reason")
    return str(line.render()) if line.display else ""


async def still_answers(pilot: Pilot[int], app: BluegreenApp) -> None:
    """A key press is handled: the log pane flips colour and back."""
    pane = app.main.query_one(LogPane)
    before = pane.color
    await pilot.press("l")
    await pilot.pause(0.1)
    assert pane.color != before, "the console did not answer a key"
    await pilot.press("l")


@pytest.fixture
def watching(world: World) -> Iterator[tuple[World, BluegreenApp]]:
    world.ensure_baseline()
    console = open_console(load_config(str(world.config)), read_only=True)
    try:
        yield world, BluegreenApp(console)
    finally:
        console.close()


async def test_postgres_stopped_shows_on_the_panels_then_recovers(
    watching: tuple[World, BluegreenApp],
) -> None:
    world, app = watching
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, "the first status", lambda: app.status is not None, 15)
        assert shown_reason(app, "blue") == ""
        world.stop_postgres()
        try:
            took = await wait_for(
                pilot, "blue's degraded reason", lambda: shown_reason(app, "blue") != "", 20
            )
            reason = shown_reason(app, "blue")
            print(f"PostgreSQL stopped → on screen after {took:.1f} s: {reason}")
            assert world.password not in reason
            assert "BLUE · live" in str(app.main.query_one("#panel-blue").border_title)
            await still_answers(pilot, app)
        finally:
            world.start_postgres()
        took = await wait_for(pilot, "recovery", lambda: shown_reason(app, "blue") == "", 30)
        print(f"PostgreSQL back → reason cleared after {took:.1f} s")
        assert app.degraded is None and app.is_running


def _dockerd_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def stop_docker_daemon() -> None:
    if Path("/run/systemd/system").is_dir():
        subprocess.run(["systemctl", "stop", "docker.socket", "docker"], check=True, timeout=120)
        return
    for pid in _dockerd_pids():
        os.kill(pid, 15)
    deadline = time.monotonic() + 60
    while _dockerd_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _dockerd_pids(), "dockerd did not stop within 60 s"


def start_docker_daemon() -> None:
    # The same way `./dev test` started it (systemd, or dockerd in the background).
    subprocess.run(["bash", str(REPO / "dev"), "docker"], check=True, timeout=120)


@pytest.mark.skipif(os.geteuid() != 0, reason="stopping the Docker daemon needs root")
@pytest.mark.skipif(shutil.which("dockerd") is None, reason="no local Docker daemon")
async def test_docker_daemon_stopped_shows_on_the_panels_then_recovers(
    watching: tuple[World, BluegreenApp],
) -> None:
    world, app = watching
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, "the first status", lambda: app.status is not None, 15)
        pane = app.main.query_one(LogPane)
        await asyncio.to_thread(stop_docker_daemon)
        try:
            took = await wait_for(
                pilot,
                "a Docker reason on both panels",
                lambda: all("Docker" in shown_reason(app, c) for c in ("blue", "green")),
                30,
            )
            print(f"dockerd stopped → on screen after {took:.1f} s: {shown_reason(app, 'blue')}")
            await wait_for(
                pilot,
                "the log pane to say it lost the stream",
                lambda: any(line.startswith("— ") for line in pane.lines[-3:]),
                15,
            )
            print(f"log pane: {pane.lines[-1]}")
            await still_answers(pilot, app)
            assert app.is_running
        finally:
            await asyncio.to_thread(start_docker_daemon)
        took = await wait_for(
            pilot,
            "the Docker reason to clear",
            lambda: not any("Docker" in shown_reason(app, c) for c in ("blue", "green")),
            60,
        )
        print(f"dockerd back → reasons cleared after {took:.1f} s")
        # The engine restarts both slots (restart policy unless-stopped): blue serves again, and
        # green resumes where it was. The outage is not a stall: green must not be failed.
        await wait_for(
            pilot,
            "both containers running again",
            lambda: (
                app.status is not None
                and all(s.container_state == "running" for s in app.status.slots.values())
            ),
            60,
        )
        assert app.status is not None
        blue, green = app.status.slots["blue"], app.status.slots["green"]
        print(f"after the restart: blue {blue.state.value}, green {green.state.value}")
        assert blue.state is SlotState.LIVE
        assert green.state in (SlotState.READY, SlotState.SYNCING), green.reason
        await wait_for(pilot, "traffic on blue", lambda: world.served() == {"blue"}, 30)
    world.ensure_baseline()  # the later tests start from blue live, green ready
