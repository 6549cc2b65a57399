"""Pilot tests: every key does what the footer says, and talks to the console as it should."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Button, Input, Log, OptionList, RadioButton, TextArea

from console.core.lock import LockHeld
from console.core.model import LockHolder, SwitchPolicy
from console.tui.app import BluegreenApp
from console.tui.screens.confirm_rollback import ConfirmRollbackScreen
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from console.tui.screens.deploy import DeployScreen, parse_env
from console.tui.screens.help import HelpScreen
from console.tui.screens.quit_confirm import QuitConfirmScreen
from console.tui.widgets.action_status import ActionStatus
from console.tui.widgets.log_pane import LogPane
from tests.tui.conftest import settle, wait_for_operation, wait_until
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (120, 40)


def shown_color(pane: LogPane) -> str:
    return pane.color  # a call, so mypy does not narrow the colour across key presses


def make_app(console: FakeConsole) -> BluegreenApp:
    return BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]


async def test_deploy_modal_submits_image_env_and_policy() -> None:
    console = FakeConsole()
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("D")
        assert isinstance(app.screen, DeployScreen)
        recent = app.screen.query_one("#deploy-recent", OptionList)
        assert [str(recent.get_option_at_index(i).prompt) for i in range(recent.option_count)] == [
            "explorer:v2",
            "explorer:v1",
            "explorer:v0.9",
        ]
        await pilot.press(*"explorer:v3")
        app.screen.query_one("#deploy-env", TextArea).text = "RUST_LOG=debug\n\n# note\nA=b=c"
        app.screen.query_one("#policy-auto", RadioButton).value = True
        await pilot.click("#confirm")
        await wait_for_operation(pilot)
        assert console.mutations() == [
            (
                "deploy",
                {
                    "image": "explorer:v3",
                    "env": {"RUST_LOG": "debug", "A": "b=c"},
                    "policy": SwitchPolicy.AUTO,
                },
            )
        ]
        status = app.main.query_one(ActionStatus)
        assert status.outcome is not None and status.outcome.ok
        assert "deploy finished" in str(status.render())


async def test_deploy_picks_recent_image_and_rejects_bad_env() -> None:
    console = FakeConsole()
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("D")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        screen.query_one("#deploy-recent", OptionList).focus()
        await pilot.press("down", "enter")  # highlight the 2nd recent image and pick it
        assert screen.query_one("#deploy-image", Input).value == "explorer:v1"
        screen.query_one("#deploy-env", TextArea).text = "not a variable"
        await pilot.press("ctrl+s")
        assert app.screen is screen, "a bad env line must keep the dialog open"
        assert "Env line 1 is not KEY=VALUE" in str(screen.query_one("#deploy-error").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, DeployScreen)
        assert console.mutation_calls() == []


def test_parse_env_rules() -> None:
    assert parse_env("A=1\n  B = 2 \n#c\n\nC=") == {"A": "1", "B": " 2", "C": ""}
    with pytest.raises(ValueError, match="line 2"):
        parse_env("A=1\n1BAD=2")


async def test_switch_confirmed_with_y_when_gate_met() -> None:
    console = FakeConsole(gate_met=True)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        screen = app.screen
        assert isinstance(screen, ConfirmSwitchScreen)
        assert str(screen.query_one("#switch-title").render()) == "Switch blue → green (v2)?"
        assert app.focused is screen.query_one("#cancel", Button)
        await pilot.press("y")
        await wait_for_operation(pilot)
        assert console.mutations() == [("switch", {"force": False})]


@pytest.mark.parametrize("key", ["enter", "n", "escape"])
async def test_switch_cancel_is_the_default(key: str) -> None:
    console = FakeConsole(gate_met=True)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        assert isinstance(app.screen, ConfirmSwitchScreen)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmSwitchScreen)
        assert console.mutation_calls() == []


async def test_switch_without_gate_needs_the_colour_typed_to_force() -> None:
    console = FakeConsole(gate_met=False)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        screen = app.screen
        assert isinstance(screen, ConfirmSwitchScreen)
        await pilot.press("y")  # a reflex `y` does nothing when the gate is not met
        assert app.screen is screen
        force = screen.query_one("#force", Button)
        assert force.disabled
        await pilot.click("#force-input")
        await pilot.press(*"blue")
        assert force.disabled, "the wrong colour must not arm Force"
        screen.query_one("#force-input", Input).value = ""
        await pilot.press(*"green")  # contains `n`: typed into the input, not a Cancel
        assert app.screen is screen
        assert not force.disabled
        await pilot.click("#force")
        await wait_for_operation(pilot)
        assert console.mutations() == [("switch", {"force": True})]


async def test_rollback_shows_plan_and_runs_on_y() -> None:
    console = FakeConsole()
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        screen = app.screen
        assert isinstance(screen, ConfirmRollbackScreen)
        assert str(screen.query_one("#rollback-title").render()) == "Roll back blue → green (v2)?"
        assert "lag 412,330" in str(screen.query_one("#rollback-state").render())
        assert "behind the live colour" in str(screen.query_one("#rollback-warning").render())
        await pilot.press("y")
        await wait_for_operation(pilot)
        assert console.mutations() == [("rollback", {})]


async def test_refusal_is_shown_as_a_sentence_not_a_traceback() -> None:
    console = FakeConsole(gate_met=True)
    holder = LockHolder("carol", "deploy", FIXED_NOW - 60, 999, "10.0.0.9")
    console.operation_error = LockHeld(holder)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S", "y")
        await wait_for_operation(pilot)
        status = app.main.query_one(ActionStatus)
        assert status.outcome is not None and not status.outcome.ok
        assert status.outcome.text == str(LockHeld(holder))
        assert any("Another operation is running" in n.message for n in app._notifications)
        assert "Traceback" not in str(status.render())


async def test_log_colour_keys_switch_followers() -> None:
    console = FakeConsole()
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.main.query_one(LogPane)
        assert shown_color(pane) == "blue" and "catchup completed #0" in pane.lines[0]
        await pilot.press("l")
        await wait_until(pilot, lambda: bool(pane.lines))
        assert shown_color(pane) == "green" and "Processing block" in pane.lines[0]
        await wait_until(pilot, lambda: "blue" in console.follow_stopped)
        await pilot.press("1")
        assert shown_color(pane) == "blue"
        await pilot.press("2")
        assert shown_color(pane) == "green"
        await wait_until(pilot, lambda: console.follow_stopped.count("green") == 1)


async def test_follow_wrap_and_pause() -> None:
    console = FakeConsole()
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.main.query_one(LogPane)
        await pilot.press("f")
        assert not pane.follow
        follower = pane._follower
        assert follower is not None
        follower.pending.extend(["late 1", "late 2", "late 3"])
        await wait_until(pilot, lambda: pane.unseen == 3)
        assert "+3 new lines" in str(pane.query_one("#log-new-lines").render())
        await pilot.press("f")
        assert pane.follow and pane.unseen == 0
        assert not pane.query_one("#log-new-lines").display

        follower.pending.append("x" * 500)
        await wait_until(pilot, lambda: pane.lines[-1] == "x" * 500)
        log = pane.query_one("#log", Log)
        assert log.line_count == len(pane.lines)
        await pilot.press("w")
        assert pane.wrap and log.line_count > len(pane.lines)  # the long line takes rows
        await pilot.press("w")
        assert not pane.wrap and log.line_count == len(pane.lines)

        polls_before = sum(1 for name, _ in console.calls if name == "status")
        await pilot.press("p")
        assert app.paused and app.main.query_one("#paused-badge").display
        console.with_lock("carol", "deploy")
        follower.pending.append("while paused")
        await wait_until(
            pilot, lambda: sum(1 for n, _ in console.calls if n == "status") >= polls_before + 2
        )  # polling goes on …
        assert "carol" not in str(app.main.query_one("#header-info").render())  # … drawing stops
        assert "while paused" not in pane.lines
        await pilot.press("p")
        assert "carol" in str(app.main.query_one("#header-info").render())
        assert "while paused" in pane.lines


async def test_quit_asks_while_an_action_runs() -> None:
    console = FakeConsole(gate_met=True)
    console.hold_operation = threading.Event()
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S", "y")
        await wait_until(pilot, lambda: app.action_running == "switch")
        assert app.check_action("deploy", ()) is None  # dimmed while an operation runs
        await pilot.press("q")
        assert isinstance(app.screen, QuitConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, QuitConfirmScreen) and app.is_running
        await pilot.press("q")
        await pilot.press("y")
        console.hold_operation.set()
        await wait_until(pilot, lambda: not app.is_running)
    assert console.operation_closed.wait(5), "quitting must close the operation's generator"
    assert app.return_code == 0


async def test_quit_without_action_exits_at_once() -> None:
    app = make_app(FakeConsole())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_help_lists_every_key() -> None:
    app = make_app(FakeConsole())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-keys").render())
        for label in ("Deploy", "Switch", "Roll back", "Follow", "Wrap", "Pause", "Quit"):
            assert label in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_actions() -> None:
    app = make_app(FakeConsole())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Deploy", "Switch", "Roll back", "Follow"} <= set(titles)
