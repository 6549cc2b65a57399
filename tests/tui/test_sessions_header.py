"""The console's header shows a session-kept switch in progress (issue 26.1): sessions on each
colour and a bar, through Pilot; nothing while no migration runs."""

from __future__ import annotations

import pytest

from console.core.measures.sessions import MigrationView
from console.tui.app import BluegreenApp
from tests.tui.conftest import settle, wait_until
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (140, 40)


async def test_the_header_shows_the_sessions_left_on_each_colour() -> None:
    console = FakeConsole()
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.screen.query_one("#header-info")
        assert "sessions" not in str(header.render())
        console.running_sessions = MigrationView(  # type: ignore[attr-defined]
            "blue", "green", "auto", FIXED_NOW + 3600, 2, 11, 8
        )
        await wait_until(pilot, lambda: "sessions blue 2" in str(header.render()), timeout=3)
        assert "sessions blue 2 → green 11 [########..]" in str(header.render())
