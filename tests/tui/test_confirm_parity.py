"""The switch confirmation shows the agent's latest parity report: H, each check, both values."""

from __future__ import annotations

import dataclasses

import pytest

from console.core.measures.parity import ParityReport, ParityResult
from console.core.model import SwitchPlan
from console.tui.app import BluegreenApp
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from tests.tui.conftest import settle
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

pytestmark = pytest.mark.tui

REPORT = ParityReport(
    height=412_320,
    margin=10,
    checks=(
        ParityResult("block hash", "match", "ab12", "ab12"),
        ParityResult("tx count", "differ", "17", "16", "at height 412320: blue '17', green '16'"),
    ),
    at=FIXED_NOW - 12,
    blue_height=412_400,
    green_height=412_330,
)


class ParityConsole(FakeConsole):
    def plan_switch(self) -> SwitchPlan:
        return dataclasses.replace(super().plan_switch(), parity=REPORT)


async def test_the_confirmation_shows_parity_with_both_values() -> None:
    console = ParityConsole(gate_met=True)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        screen = app.screen
        assert isinstance(screen, ConfirmSwitchScreen)
        text = str(screen.query_one("#switch-parity").render())
        assert "Parity at height 412320 = min(blue 412400, green 412330) − 10" in text
        assert "✓ block hash: match ('ab12')" in text
        assert "✗ tx count: DIFFERS: blue '17', green '16'" in text
        assert "compared again at the switch" in text
