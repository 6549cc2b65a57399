"""The freeze and maintenance on the console's header, and a switch the freeze refuses shown as
its one paragraph (through Pilot)."""

from __future__ import annotations

import dataclasses

from console.core.holds import Freeze, Holds, Maintenance
from console.core.model import Status
from console.core.ops.operation import FrozenError
from console.tui.app import BluegreenApp
from console.tui.widgets.action_status import ActionStatus
from tests.tui.conftest import settle, wait_for_operation
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

SIZE = (160, 40)
HELD = Holds(
    Freeze("release train stopped", "alice", FIXED_NOW - 600, FIXED_NOW + 7200),
    Maintenance("back soon", "bob", FIXED_NOW - 60, 120),
)


class HeldConsole(FakeConsole):
    def status(self) -> Status:
        return dataclasses.replace(super().status(), holds=HELD)


async def test_the_header_shows_the_freeze_and_maintenance_and_a_refusal_is_one_paragraph() -> None:
    console = HeldConsole(gate_met=True)
    refusal = "'switch' refused: releases are frozen by alice … Rollback stays open."
    console.operation_error = FrozenError(refusal)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = str(app.screen.query_one("#header-info").render())
        assert 'FROZEN by alice, 2h00m left: "release train stopped"' in header
        assert "MAINTENANCE: clients get 503, Retry-After 120 s" in header
        await pilot.press("S", "y")
        await wait_for_operation(pilot)
        status = app.main.query_one(ActionStatus)
        assert status.outcome is not None and not status.outcome.ok
        assert status.outcome.text == refusal
        assert "Traceback" not in str(status.render())
