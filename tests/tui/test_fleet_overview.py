"""The overview of several services, driven through Pilot over FakeServices (the app's own logic:
rows, sort, filter, enter/esc, actions on the selected service, read-only, a hung service, 80×24).
The same on a real fleet directory and on the fleet sandbox: test_fleet_e2e.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from console.tui.app import KEPT_SCREENS, BluegreenApp
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from console.tui.screens.fleet import FleetScreen, FleetWatchScreen
from console.tui.screens.main import FleetOperatorScreen, OperatorScreen
from console.tui.widgets.events_pane import EventsPane
from console.tui.widgets.fleet_table import FleetTable
from console.tui.widgets.header import AppHeader
from console.tui.widgets.log_pane import LogPane
from console.tui.widgets.text_line import TextLine
from tests.tui.conftest import wait_for_operation, wait_until
from tests.tui.fake_console import fixed_clock
from tests.tui.fake_fleet import FakeService, fake_fleet

ROOT = Path(__file__).resolve().parents[2]
BROKEN = (
    "Service broken (/etc/bluegreen/broken.toml) skipped: [slots.blue] port: expected a number."
)


def fleet_app(
    services: dict[str, FakeService] | None = None, skipped: dict[str, str] | None = None
) -> BluegreenApp:
    consoles = services if services is not None else fake_fleet(4)
    return BluegreenApp(
        consoles,  # type: ignore[arg-type]
        clock=fixed_clock,
        poll_seconds=0.1,
        skipped={"broken": BROKEN} if skipped is None else skipped,
    )


async def overview_ready(pilot: Pilot[Any]) -> FleetWatchScreen:
    app = pilot.app
    assert isinstance(app, BluegreenApp) and app.overview is not None
    overview = app.overview
    await wait_until(pilot, lambda: all(r.status or r.skipped for r in overview.readings.values()))
    await wait_until(
        pilot, lambda: len(overview.query_one(FleetTable).options) == len(overview.readings)
    )
    await pilot.pause()
    return overview


def lines(overview: FleetWatchScreen) -> dict[str, str]:
    table = overview.query_one(FleetTable)
    return {str(option.id): str(option.prompt) for option in table.options}


def screen_text(app: BluegreenApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def select(pilot: Pilot[Any], overview: FleetWatchScreen, name: str) -> None:
    table = overview.query_one(FleetTable)
    table.highlighted = [str(o.id) for o in table.options].index(name)
    await pilot.pause()


async def test_overview_has_a_row_per_service_and_the_skipped_one_with_its_error() -> None:
    app = fleet_app()
    async with app.run_test(size=(140, 30)) as pilot:
        overview = await overview_ready(pilot)
        assert isinstance(app.screen, FleetScreen)
        rows = lines(overview)
        assert sorted(rows) == ["api", "broken", "explorer", "indexer", "web"]
        assert "● blue v1" in rows["api"] and "syncing 62 % · ETA 22m05s" in rows["api"]
        assert "ready v2" in rows["explorer"] and "✓ met" in rows["explorer"]
        assert "failed" in rows["indexer"] and "stalled" in rows["indexer"]
        assert "empty" in rows["web"]
        assert "212/s 0.2% 85ms" in rows["api"]
        assert "disk" in rows["api"]  # green fills its disk before caught up
        assert "skipped" in rows["broken"]
        await select(pilot, overview, "broken")
        detail = overview.query_one("#fleet-detail", TextLine)
        assert BROKEN in str(detail.render())
        await pilot.press("enter")  # a skipped service has no screen to open
        await pilot.pause()
        assert app.screen is overview


async def test_lock_canary_and_drift_show_on_their_rows() -> None:
    app = fleet_app(fake_fleet(7))
    async with app.run_test(size=(140, 30)) as pilot:
        rows = lines(await overview_ready(pilot))
        assert "carol deploy" in rows["evm"]  # shape "locked"
        assert "10% → green" in rows["frontend"]  # shape "canary"
        assert "drift" in rows["backend"]  # a drift event 30 s ago
        assert not any("drift" in rows[name] for name in rows if name != "backend")


async def test_enter_opens_the_service_screen_and_esc_returns() -> None:
    services = fake_fleet(4)
    app = fleet_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        overview = await overview_ready(pilot)
        await select(pilot, overview, "indexer")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FleetOperatorScreen))
        await wait_until(pilot, lambda: app.status is not None)
        header = app.screen.query_one("#header-info", TextLine)
        await wait_until(pilot, lambda: "indexer" in str(header.render()))
        pane = app.screen.query_one(LogPane)
        await wait_until(pilot, lambda: bool(pane.lines))
        assert services["indexer"].follow_started and not services["api"].follow_started
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is overview)
        await wait_until(pilot, lambda: bool(services["indexer"].follow_stopped))
        # Another service next: its own data, not the last one's.
        await select(pilot, overview, "web")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.status is not None and app.status.service == "web")


async def test_a_reopened_service_shows_its_kept_screen_and_only_the_last_few_are_kept() -> None:
    services = fake_fleet(7)
    app = fleet_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        overview = await overview_ready(pilot)

        async def open_and_leave(name: str) -> FleetOperatorScreen:
            await select(pilot, overview, name)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, FleetOperatorScreen))
            await wait_until(pilot, lambda: app.status is not None and app.status.service == name)
            screen = app.screen
            assert isinstance(screen, FleetOperatorScreen)
            await wait_until(pilot, lambda: bool(screen.query_one(LogPane).lines))
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is overview)
            return screen

        first = await open_and_leave("indexer")
        assert services["indexer"].follow_stopped  # esc stops its follower, as it did
        events = list(first.query_one(EventsPane).events)
        again = await open_and_leave("indexer")
        assert again is first  # shown again, not composed again
        assert services["indexer"].follow_started == ["blue", "blue"]  # following again
        assert list(first.query_one(EventsPane).events) == events  # no event twice
        for name in ("api", "explorer", "web", "evm"):
            await open_and_leave(name)
        assert not first.is_attached  # the least recently opened of five was dropped
        assert len(app._kept) == KEPT_SCREENS


async def test_s_cycles_the_sort_column() -> None:
    app = fleet_app()
    async with app.run_test(size=(140, 30)) as pilot:
        overview = await overview_ready(pilot)
        assert overview.sort == "service"
        assert list(lines(overview)) == ["api", "broken", "explorer", "indexer", "web"]
        await pilot.press("s")
        assert overview.sort == "alerts"
        order = list(lines(overview))
        assert order[0] == "broken" and order[-1] == "explorer"  # explorer has no alert
        await pilot.press("s")
        assert overview.sort == "idle"
        assert next(iter(lines(overview))) == "indexer"  # failed first
        header = str(overview.query_one(AppHeader).query_one("#header-info", TextLine).render())
        assert "sorted by idle" in header


async def test_slash_filters_and_esc_clears() -> None:
    app = fleet_app()
    async with app.run_test(size=(140, 30)) as pilot:
        overview = await overview_ready(pilot)
        await pilot.press("slash")
        await pilot.press("f", "a", "i", "l")
        await pilot.pause()
        assert list(lines(overview)) == ["indexer"]  # "failed" is in its row only
        await pilot.press("enter")  # back to the table, the filter kept
        assert list(lines(overview)) == ["indexer"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(lines(overview)) == 5 and overview.needle == ""


async def test_switch_from_the_overview_names_and_acts_on_the_selected_service() -> None:
    services = fake_fleet(4)
    app = fleet_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        overview = await overview_ready(pilot)
        await select(pilot, overview, "explorer")
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSwitchScreen))
        title = str(app.screen.query_one("#switch-title", Label).render())
        assert title == "explorer: Switch blue → green (v2)?"
        await pilot.press("y")
        await wait_for_operation(pilot)
        assert services["explorer"].mutation_calls() == ["switch"]
        assert all(not s.mutation_calls() for n, s in services.items() if n != "explorer")


async def test_switch_from_a_service_screen_names_that_service() -> None:
    services = fake_fleet(4)
    app = fleet_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        overview = await overview_ready(pilot)
        await select(pilot, overview, "api")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.status is not None)
        await pilot.press("R")
        await wait_until(pilot, lambda: app.screen.id == "confirm-rollback")
        title = str(app.screen.query_one("#rollback-title", Label).render())
        assert title.startswith("api: Roll back")
        await pilot.press("n")
        await pilot.pause()
        assert not services["api"].mutation_calls()


async def test_read_only_fleet_shows_the_overview_and_binds_no_mutation() -> None:
    services = fake_fleet(4, read_only=True)
    app = fleet_app(services)
    async with app.run_test(size=(120, 40)) as pilot:
        overview = await overview_ready(pilot)
        assert type(overview) is FleetWatchScreen
        assert overview.query_one("#read-only-badge").display
        keys = set(overview._bindings.key_to_bindings)
        assert not keys & {"D", "S", "R", "C"}
        for key in ("D", "S", "R", "C"):
            await pilot.press(key)
        await pilot.pause()
        assert app.screen is overview
        assert all(not s.mutation_calls() for s in services.values())
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not overview)
        await pilot.press("S")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmSwitchScreen)


async def test_a_hung_service_goes_stale_and_the_others_keep_updating() -> None:
    services = fake_fleet(3)
    hung = FakeService("stuck", "hung")
    services["stuck"] = hung
    app = fleet_app(services, skipped={})
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            overview = await overview_ready(pilot)
            await wait_until(pilot, lambda: "no answer" in lines(overview)["stuck"], timeout=15)
            services["api"].live_version = "v9"
            await wait_until(pilot, lambda: "blue v9" in lines(overview)["api"])
            assert "blue v1" in lines(overview)["stuck"]  # its last values, said to be late
            await select(pilot, overview, "stuck")
            assert "has not answered" in str(overview.query_one("#fleet-detail", TextLine).render())
            assert hung.hang is not None
            hung.hang.set()
    finally:
        if hung.hang is not None:
            hung.hang.set()


@pytest.mark.parametrize("read_only", [False, True])
async def test_overview_at_80x24_stays_legible(read_only: bool) -> None:
    app = fleet_app(fake_fleet(7, read_only=read_only))
    async with app.run_test(size=(80, 24)) as pilot:
        overview = await overview_ready(pilot)
        text = screen_text(app)
        assert len(text) == 24 and all(len(line) <= 80 for line in text)
        assert "SERVICE" in text[1] and "IDLE" in text[1] and "TRAFFIC" in text[1]
        for name in ["api", "explorer", "indexer", "web", "evm", "frontend", "backend", "broken"]:
            row = next(line for line in text if line.startswith(f" {name} "))
            assert "…" not in row.split()[0]
        assert "syncing 62% 22m05s" in next(line for line in text if line.startswith(" api "))
        assert "Open" in text[-1] and "Filter" in text[-1] and "Quit" in text[-1]
        assert ("Switch" in text[-1]) is not read_only
        assert len(overview.rows) == 8


async def test_one_service_opens_straight_on_its_screen() -> None:
    service = FakeService("solo", "syncing")
    app = BluegreenApp({"solo": service}, clock=fixed_clock)  # type: ignore[dict-item]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.status is not None)
        assert type(app.screen) is OperatorScreen and app.overview is None
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen) is OperatorScreen


QUIT_WITH_A_HUNG_SERVICE = """
import asyncio, time
from console.tui.app import KEPT_SCREENS, BluegreenApp
from tests.tui.conftest import wait_until
from tests.tui.fake_fleet import FakeService, fake_fleet

async def main() -> None:
    services = fake_fleet(2)
    services["stuck"] = stuck = FakeService("stuck", "hung")
    stuck.hang.wait = lambda timeout=None: time.sleep(3600)  # a store that never answers
    app = BluegreenApp(services, poll_seconds=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: any("no answer" in r.text for r in app.overview.rows))
        await pilot.press("q")

asyncio.run(main())
print("the program ended")
"""


def test_quitting_with_a_hung_service_ends_the_program() -> None:
    """A read that never returns must not keep the program alive after `q` (a Textual thread
    worker's thread is joined at exit; the overview's readers are daemons)."""
    done = subprocess.run(
        [sys.executable, "-c", QUIT_WITH_A_HUNG_SERVICE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the program ended" in done.stdout
