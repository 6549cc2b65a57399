"""`V` in the console: pick a retained version, confirm a dialog that names the service and the
version, and the named rollback runs as one operation (its steps in the action line)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Label, OptionList

from console.core.model import OperationEvent
from console.core.ops.named_rollback import NamedRollbackPlan
from console.tui.app import BluegreenApp
from console.tui.screens.rollback_to import ConfirmRollbackToScreen, RollbackToScreen
from tests.tui.conftest import settle, wait_until
from tests.tui.fake_console import FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (120, 40)
REPO = "registry.example.com/explorer"


class RetainingConsole(FakeConsole):
    """The fake console with three retained versions; v9 is not one of them."""

    def retained_versions(self) -> list[str]:
        self.calls.append(("retained_versions", {}))
        return ["v3", "v2", "v1"]

    def plan_named_rollback(self, version: str) -> NamedRollbackPlan:
        ref = f"{REPO}:{version}"
        if version == "v9":
            return NamedRollbackPlan(
                "explorer", version, ref, "blue", None, blocked_reason="not retained."
            )
        return NamedRollbackPlan("explorer", version, ref, "blue", "green")

    def rollback_to(self, plan: NamedRollbackPlan) -> Iterator[OperationEvent]:
        return self._operation("rollback_to", version=plan.version, to=plan.to_color)


async def test_pick_a_version_confirm_it_and_the_rollback_runs() -> None:
    console = RetainingConsole(gate_met=True)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("V")
        await wait_until(pilot, lambda: isinstance(app.screen, RollbackToScreen))
        options = app.screen.query_one("#rollback-to-versions", OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(3)] == [
            "v3",
            "v2",
            "v1",
        ]
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmRollbackToScreen))
        question = str(app.screen.query_one("#rollback-to-question", Label).render())
        assert question == (
            f"Roll back explorer to v1: deploy {REPO}:v1 into green, wait until it has caught "
            "up, then switch blue → green?"
        )
        await pilot.press("y")
        await wait_until(
            pilot, lambda: ("rollback_to", {"version": "v1", "to": "green"}) in console.calls
        )
        await wait_until(pilot, lambda: app.action_running is None)


async def test_a_version_that_cannot_be_rolled_back_to_only_says_why() -> None:
    console = RetainingConsole(gate_met=True)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = ConfirmRollbackToScreen(console.plan_named_rollback("v9"))
        answers: list[bool | None] = []
        app.push_screen(screen, answers.append)
        await pilot.pause()
        assert "Cannot roll back explorer to v9." in str(
            screen.query_one("#rollback-to-question", Label).render()
        )
        await pilot.press("y")  # no plain confirm on a refusal
        await pilot.pause()
        assert app.screen is screen and answers == []
        await pilot.press("escape")
        await pilot.pause()
        assert answers == [False]
    assert not [name for name, _ in console.calls if name == "rollback_to"]


async def test_a_read_only_console_has_no_rollback_to_key() -> None:
    console = RetainingConsole(read_only=True)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("V")
        await pilot.pause()
        assert not isinstance(app.screen, RollbackToScreen)
    assert ("retained_versions", {}) not in console.calls
