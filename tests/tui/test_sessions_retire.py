"""`X` retires the old colour of a session-kept switch (issue 26.1), through Pilot: offered in the
footer only while a migration runs (on the overview: while the selected service has one), asks
naming the service, the colour and the sessions still on it, `n` changes nothing, `y` runs
`sessions retire` on that service; never bound in read-only mode."""

from __future__ import annotations

import pytest
from textual.widgets import Label

from console.core.measures.sessions import MigrationView
from console.tui.app import BluegreenApp
from console.tui.screens.confirm_retire import ConfirmRetireScreen
from tests.tui.conftest import settle, wait_for_operation, wait_until
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock
from tests.tui.fake_fleet import fake_fleet
from tests.tui.test_fleet_overview import overview_ready, select

pytestmark = pytest.mark.tui
SIZE = (120, 40)
MIGRATION = MigrationView("blue", "green", "confirm", FIXED_NOW + 3600, 3, 11, 8)


def offered(app: BluegreenApp) -> bool:
    """Whether the footer offers the retire key now."""
    return any(
        binding.action == "app.retire_sessions"
        for _, binding, enabled, *_ in app.screen.active_bindings.values()
        if enabled
    )


def retire_calls(console: FakeConsole) -> int:
    return sum(1 for name, _ in console.calls if name == "sessions_retire")


async def test_the_key_comes_with_a_migration_and_asks_naming_the_count() -> None:
    console = FakeConsole()
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = app.screen
        assert not offered(app)
        await pilot.press("X")  # no migration: not offered, and the key does nothing
        await pilot.pause()
        assert app.screen is main and retire_calls(console) == 0

        console.running_sessions = MIGRATION  # type: ignore[attr-defined]
        await wait_until(pilot, lambda: offered(app), timeout=5)
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmRetireScreen))
        title = str(app.screen.query_one("#retire-title", Label).render())
        assert title == "Retire blue (explorer) with 3 sessions still on it?"
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is main and retire_calls(console) == 0

        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmRetireScreen))
        await pilot.press("y")
        await wait_for_operation(pilot)
        assert retire_calls(console) == 1

        console.running_sessions = None  # type: ignore[attr-defined]  # the migration ended
        await wait_until(pilot, lambda: not offered(app), timeout=5)


async def test_read_only_never_binds_the_key() -> None:
    console = FakeConsole(read_only=True)
    console.running_sessions = MIGRATION  # type: ignore[attr-defined]
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = app.screen
        bound = {binding.action for _, binding, *_ in main.active_bindings.values()}
        assert "app.retire_sessions" not in bound
        await pilot.press("X")
        await app.run_action("retire_sessions")  # from a palette: still refused by the app
        await pilot.pause()
        assert app.screen is main and retire_calls(console) == 0


async def test_on_the_overview_the_key_follows_the_selected_service() -> None:
    services = fake_fleet(3)
    migrating = next(iter(services))
    services[migrating].running_sessions = MIGRATION  # type: ignore[attr-defined]
    app = BluegreenApp(services, clock=fixed_clock, poll_seconds=0.1)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        overview = await overview_ready(pilot)
        others = [name for name in services if name != migrating]
        await select(pilot, overview, others[0])
        await wait_until(pilot, lambda: not offered(app), timeout=5)
        await select(pilot, overview, migrating)
        await wait_until(pilot, lambda: offered(app), timeout=5)
        await pilot.press("X")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmRetireScreen))
        title = str(app.screen.query_one("#retire-title", Label).render())
        assert title == f"Retire blue ({migrating}) with 3 sessions still on it?"
        await pilot.press("y")
        await wait_for_operation(pilot)
        assert retire_calls(services[migrating]) == 1
        assert all(retire_calls(services[name]) == 0 for name in others)
