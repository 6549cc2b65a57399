"""The console against the real sandbox, by key presses only: deploy v2, wait until ready, switch,
roll back — and the same console read-only can do none of it."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Input

from console.core.config.load import load_config
from console.core.service import Console
from console.tui.app import BluegreenApp
from console.wiring import open_console
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


class RecordingApp(BluegreenApp):
    """The console as operators run it, keeping every notification it showed (toasts vanish
    after seconds; a failure message needs them)."""

    CSS_PATH = Path(inspect.getfile(BluegreenApp)).with_name("app.tcss")  # not beside this file

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.shown: list[str] = []

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:  # type: ignore[override]
        self.shown.append(f"[{title}] {message}" if title else message)
        super().notify(message, title=title, **kwargs)


def text_of(screen: Screen[Any], selector: str) -> str:
    found = screen.query(selector)
    return " | ".join(str(widget.render()) for widget in found) if found else "(not shown)"


def drawn(app: RecordingApp, dialog: str = "") -> str:
    """What the console showed: the dialog last seen, the main screen's green panel and gate,
    every notification."""
    main = app.main
    lines = [dialog] if dialog else []
    for part in ("green-state", "green-gate", "green-reason", "blue-state"):
        found = main.query(f"#{part}")
        lines.append(f"{part}: {str(found.first().render()) if found else '(none)'}")
    lines += [f"notification: {line}" for line in app.shown] or ["(no notifications)"]
    return "\n".join(lines)


async def wait_until(
    check: Callable[[], bool], seconds: float, what: str, why: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{await asyncio.to_thread(why)}")


async def test_deploy_switch_rollback_from_the_keyboard(sandbox: Sandbox) -> None:
    console = open_console(load_config(str(sandbox.config)))
    app = RecordingApp(console)
    dialog = ""

    def why() -> str:
        return sandbox.why(drawn(app, dialog))

    try:
        async with app.run_test(size=(140, 45)) as pilot:
            await wait_until(lambda: console.status().live == "blue", 10, "blue live", why)
            await pilot.press("D")
            await pilot.pause()
            app.screen.query_one("#deploy-image", Input).value = "v2"
            await pilot.press("enter")
            await wait_until(
                lambda: console.status().slots["green"].state == "ready", 240, "green ready", why
            )
            # S opens the confirmation on the gate as planned at that moment: when it is not met
            # the dialog asks for a typed 'green' and Force, and `y` is (by design) no answer.
            # So press S once the screen shows green ready and the gate is met — and when the
            # gate changed meanwhile (the dialog says so), close it and ask again.
            ready_at = time.monotonic()
            for _attempt in range(5):
                plan = await asyncio.to_thread(console.plan_switch)
                if not plan.gate_met:  # green "ready", its gate not (yet, or any more): say why
                    unmet = [f"{c.name}: {c.detail}" for c in plan.conditions if not c.met]
                    print(f"green ready but the gate unmet: {unmet or plan.blocked_reason}")
                await wait_until(
                    lambda: console.plan_switch().gate_met, 60, "the gate to be met", why
                )
                print(f"gate met {time.monotonic() - ready_at:.1f} s after green read ready")
                deadline = time.monotonic() + 10  # the screen's next polls
                while "READY" not in text_of(app.main, "#green-state").upper():
                    assert time.monotonic() < deadline, f"green not drawn ready\n{why()}"
                    await pilot.pause(0.25)
                await pilot.press("S")
                await pilot.pause()
                assert "green" in text_of(app.screen, "#switch-title")
                dialog = "switch dialog: " + " / ".join(
                    text_of(app.screen, part)
                    for part in ("#switch-title", "#switch-gate", ".detail")
                )
                if app.screen.query("#confirm"):
                    break
                print(f"S showed an unmet gate, asking again: {dialog}")  # the cause, if it fails
                await pilot.press("escape")
                await pilot.pause()
            else:
                raise AssertionError(f"the gate never stayed met for a switch\n{why()}")
            await pilot.press("y")
            await wait_until(lambda: sandbox.served_by() == "green", 30, "traffic on green", why)
            await pilot.pause(1.5)
            await pilot.press("R")
            await pilot.pause()
            dialog = "rollback dialog: " + text_of(app.screen, "Label")
            await pilot.press("y")
            await wait_until(lambda: sandbox.served_by() == "blue", 30, "traffic back on blue", why)
        events = [e.kind for e in console.events()]
        assert "switch" in events and "rollback" in events, why()
    finally:
        console.close()


async def test_read_only_console_cannot_act(sandbox: Sandbox) -> None:
    console = open_console(load_config(str(sandbox.config)), read_only=True)
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
