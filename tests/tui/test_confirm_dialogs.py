"""The three confirmations share one dialog: Cancel focused on open, `y` yes, `n`/esc/enter on
Cancel no — each with its own words in the footer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.binding import Binding
from textual.widgets import Button

from console.tui.app import BluegreenApp
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.confirm_rollback import ConfirmRollbackScreen
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from console.tui.screens.quit_confirm import QuitConfirmScreen
from tests.tui.conftest import settle
from tests.tui.fake_console import FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (120, 40)

Dialog = Callable[[FakeConsole], ConfirmScreen]
DIALOGS: dict[str, tuple[Dialog, tuple[str, str]]] = {
    "switch": (lambda c: ConfirmSwitchScreen(c.plan_switch()), ("Switch", "Cancel")),
    "rollback": (lambda c: ConfirmRollbackScreen(c.plan_rollback()), ("Roll back", "Cancel")),
    "quit": (lambda c: QuitConfirmScreen("switch"), ("Quit", "Stay")),
}


def footer_words(screen: ConfirmScreen, name: str) -> tuple[str, str]:
    by_id = {b.id: b for b in screen.BINDINGS if isinstance(b, Binding)}
    return by_id[f"{name}.yes"].description, by_id[f"{name}.no"].description


async def answer(name: str, key: str) -> list[bool | None]:
    """Open the dialog over the app, check what all of them share, press `key`: the answers."""
    make, words = DIALOGS[name]
    console = FakeConsole(gate_met=True)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    answers: list[bool | None] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = make(console)
        assert footer_words(screen, name) == words
        app.push_screen(screen, answers.append)
        await pilot.pause()
        assert app.focused is screen.query_one("#cancel", Button)
        await pilot.press(key)
        await pilot.pause()
        assert app.screen is not screen
    assert console.mutation_calls() == [], "a dialog answers; the app acts"
    return answers


@pytest.mark.parametrize("name", sorted(DIALOGS))
@pytest.mark.parametrize(("key", "expected"), [("y", True), ("n", False), ("escape", False)])
async def test_each_dialog_answers_the_same_keys(name: str, key: str, expected: bool) -> None:
    assert await answer(name, key) == [expected]


@pytest.mark.parametrize("name", sorted(DIALOGS))
async def test_enter_on_the_focused_cancel_answers_no(name: str) -> None:
    assert await answer(name, "enter") == [False]
