"""The events pane follows its newest event like `tail -f`, from its first layout, until the
operator scrolls up; then it stays where it was put until they go back to the end."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from console.core.model import EventRecord
from console.tui.app import BluegreenApp
from console.tui.widgets.events_pane import EventsPane
from tests.tui.conftest import settle, wait_until
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

pytestmark = pytest.mark.tui


def event(n: int) -> EventRecord:
    return EventRecord(100 + n, FIXED_NOW - 60 + n, "milestone", "info", f"tick {n}", "agent")


async def shown(pilot: Pilot[Any], pane: EventsPane, newest: int) -> None:
    """Until the pane has drawn event `newest` and the layout has settled."""
    await wait_until(pilot, lambda: bool(pane.events) and pane.events[-1].id == newest)
    await pilot.pause()
    await pilot.pause()


async def test_the_pane_shows_its_newest_event_and_stays_put_once_scrolled_up() -> None:
    console = FakeConsole()  # five events: 15 rows at 80×24, where the pane has 5
    app = BluegreenApp(console, clock=fixed_clock, poll_seconds=0.05)  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(EventsPane)
        await shown(pilot, pane, 5)
        # At the end from the first layout on (before, only if no later layout moved the end).
        assert pane.max_scroll_y > 5
        assert pane.following and pane.scroll_y == pane.max_scroll_y

        pane.focus()
        await pilot.press("pageup")  # the operator reads back
        await wait_until(pilot, lambda: pane.scroll_y < pane.max_scroll_y)
        read_at, end_before = pane.scroll_y, pane.max_scroll_y
        assert not pane.following

        console.extra_events.append(event(1))
        await shown(pilot, pane, event(1).id)
        assert pane.max_scroll_y > end_before  # the new event is below ...
        assert pane.scroll_y == read_at and not pane.following  # ... and the view did not move

        await pilot.press("end")  # back to the end: following again
        await wait_until(pilot, lambda: pane.following)
        console.extra_events.append(event(2))
        await shown(pilot, pane, event(2).id)
        assert pane.following and pane.scroll_y == pane.max_scroll_y


async def test_a_layout_change_without_new_events_keeps_the_end_in_view() -> None:
    # The flaky snapshot's case: the first events were drawn, then the layout changed (the short
    # screen's styles, a scrollbar narrowing the lines) and moved the end with no event to scroll
    # again. A resize from a size where every event fits does the same, every time.
    app = BluegreenApp(FakeConsole(), clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(EventsPane)
        await shown(pilot, pane, 5)
        assert pane.max_scroll_y == 0  # all five fit
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: pane.max_scroll_y > 5)
        await pilot.pause()
        assert pane.following and pane.scroll_y == pane.max_scroll_y
