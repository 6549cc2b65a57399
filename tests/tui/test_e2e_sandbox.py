"""The console against the real sandbox, by key presses only: deploy v2, wait until ready, switch,
roll back — and the same console read-only can do none of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from textual.widgets import Input

from console.core.config import load_config
from console.core.service import Console
from console.tui.app import BluegreenApp
from tests import ports
from tests.integration import sandbox_fixture
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.tui, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    previous = sandbox_fixture.PORT_BASE
    sandbox_fixture.PORT_BASE = ports.E2E_SANDBOX.start
    try:
        world = bring_up()
    finally:
        sandbox_fixture.PORT_BASE = previous
    try:
        yield world
    finally:
        tear_down(world.dir)


async def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def test_deploy_switch_rollback_from_the_keyboard(sandbox: Sandbox) -> None:
    console = Console.open(load_config(str(sandbox.config)))
    app = BluegreenApp(console)
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            await wait_until(lambda: console.status().live == "blue", 10, "blue live on screen")
            await pilot.press("D")
            await pilot.pause()
            app.screen.query_one("#deploy-image", Input).value = "v2"
            await pilot.press("enter")
            await wait_until(
                lambda: console.status().slots["green"].state == "ready", 240, "green ready"
            )
            await pilot.pause(1.5)  # the panel's next poll
            await pilot.press("S")
            await pilot.pause()
            assert "green" in str(app.screen.query_one("#switch-title").render())
            await pilot.press("y")
            await wait_until(lambda: sandbox.served_by() == "green", 30, "traffic on green")
            await pilot.pause(1.5)
            await pilot.press("R")
            await pilot.pause()
            await pilot.press("y")
            await wait_until(lambda: sandbox.served_by() == "blue", 30, "traffic back on blue")
        events = [e.kind for e in console.events()]
        assert "switch" in events and "rollback" in events
    finally:
        console.close()


async def test_read_only_console_cannot_act(sandbox: Sandbox) -> None:
    console = Console.open(load_config(str(sandbox.config)), read_only=True)
    app = BluegreenApp(console)
    live_before = sandbox.served_by()
    events_before = len(console.events())
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            for key in ("D", "S", "R", "y", "enter"):
                await pilot.press(key)
                await pilot.pause()
            assert len(app.screen_stack) == 1  # no dialog opened
        assert sandbox.served_by() == live_before
        acted = [e for e in console.events()[events_before:] if e.kind in ("deploy", "switch")]
        assert acted == []
    finally:
        console.close()
