"""Pilot tests for `C`: the canary dialog names its target, opens on Cancel, and asks the console
for exactly the share, promote or abort chosen; the header shows a running canary."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input

from console.core.model import Canary
from console.tui.app import BluegreenApp
from console.tui.screens.canary import CanaryScreen
from console.tui.widgets.header import header_content
from tests.tui.conftest import settle, wait_for_operation
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (120, 40)


def make_app(console: FakeConsole) -> BluegreenApp:
    return BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]


def canary_calls(console: FakeConsole) -> list[tuple[str, dict[str, object]]]:
    return [call for call in console.calls if call[0].startswith("canary")]


async def test_c_sets_the_typed_share_on_the_ready_idle_colour() -> None:
    console = FakeConsole(gate_met=True)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("C")
        screen = app.screen
        assert isinstance(screen, CanaryScreen)
        title = str(screen.query_one("#canary-title").render())
        assert title == "Canary: clients to green (v2), blue live"
        assert app.focused is screen.query_one("#cancel", Button)
        screen.query_one("#canary-percent", Input).value = "15"
        await pilot.click("#set")
        await wait_for_operation(pilot)
        assert canary_calls(console) == [("canary", {"percent": 15, "force": False})]


async def test_an_unmet_gate_offers_no_share_and_cancel_asks_nothing() -> None:
    console = FakeConsole(gate_met=False)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("C")
        screen = app.screen
        assert isinstance(screen, CanaryScreen)
        assert screen.query_one("#set", Button).disabled
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CanaryScreen) and canary_calls(console) == []


@pytest.mark.parametrize(
    ("button", "call"), [("#abort", "canary_abort"), ("#promote", "canary_promote")]
)
async def test_a_running_canary_can_be_aborted_or_promoted(button: str, call: str) -> None:
    console = FakeConsole(gate_met=True)
    console.running_canary = Canary("green", 10)  # type: ignore[attr-defined]
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("C")
        screen = app.screen
        assert isinstance(screen, CanaryScreen)
        assert "now 10 % of clients to green" in str(screen.query_one("#canary-title").render())
        await pilot.click(button)
        await wait_for_operation(pilot)
        assert [name for name, _ in canary_calls(console)] == [call]


def test_the_header_shows_a_running_canary() -> None:
    console = FakeConsole()
    console.running_canary = Canary("green", 10)  # type: ignore[attr-defined]
    text = header_content(console.status(), None, FIXED_NOW).plain
    assert "live ● blue  canary 10 % → green" in text


async def test_read_only_binds_no_canary() -> None:
    console = FakeConsole(read_only=True)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await pilot.pause()
        assert not isinstance(app.screen, CanaryScreen)
