"""The overview: every service on the host, one row each, when the console has several.

Each service is read on its own long-lived thread (console/tui/fleet_reads.py): a service whose
store hangs holds only its own thread; its row keeps its last values and says how long it has not
answered, and every other row goes on updating. The answers are taken on a timer, not one message
per read, and the table draws only the rows that changed: twenty services cost one pass a tick.

Keys: enter opens the selected service's screen, `s` cycles the sort column, `/` filters (esc
clears), and the mutating keys (bound to the app) act on the selected service.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, OptionList

from console.core.model import Status
from console.core.service import Console
from console.tui.actions import fleet_bindings
from console.tui.fleet_reads import Answer, ServiceReader
from console.tui.widgets.action_status import ActionStatus
from console.tui.widgets.fleet_rows import SORTS, Reading, Row, row_for
from console.tui.widgets.fleet_table import WIDE, FleetTable
from console.tui.widgets.header import AppHeader
from console.tui.widgets.steady_footer import SteadyFooter
from console.tui.widgets.text_line import TextLine

# A read in flight longer than this (and at least 3 s) shows its row as not answering.
STALE_POLLS = 3.0


class FleetWatchScreen(Screen[None]):
    """The read-only overview: open, sort, filter, help, quit."""

    BINDINGS = fleet_bindings(read_only=True)  # type: ignore[assignment]
    READ_ONLY = True

    def __init__(
        self,
        consoles: Mapping[str, Console],
        skipped: Mapping[str, str],
        on_open: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 1.0,
    ) -> None:
        super().__init__(id="fleet")
        self.consoles = consoles
        self.readings = {name: Reading(name) for name in consoles}
        for name, why in skipped.items():
            self.readings[name] = Reading(name, skipped=why)
        self._on_open = on_open
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.stale_after = max(3.0, STALE_POLLS * poll_seconds)
        self.sort = SORTS[0]
        self.needle = ""
        self.rows: list[Row] = []  # shown: filtered and sorted
        self._all_rows: list[Row] = []
        self._dirty = True
        self._started = False  # every service has answered once
        self._readers = {
            name: ServiceReader(name, console, poll_seconds) for name, console in consoles.items()
        }

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        yield TextLine(id="fleet-columns")
        yield FleetTable()
        yield TextLine(id="fleet-detail")
        # Always on screen: showing and hiding it changed the table's height, and a new height
        # repaints every row (half of what `/` and its esc cost under a flood).
        yield Input(placeholder="/ filter: part of a name, a state, an alert…", id="fleet-filter")
        yield ActionStatus()
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(AppHeader).set_badges(read_only=self.READ_ONLY, paused=False)
        for reader in self._readers.values():
            reader.start()
        self.set_interval(min(1.0, self.poll_seconds), self.redraw)
        self.redraw()

    def on_unmount(self) -> None:
        for reader in self._readers.values():
            reader.stop()

    # ── reading: each service's thread keeps its newest answer; a redraw takes them all ──
    def _take_answers(self) -> None:
        monotonic_now = time.monotonic()
        for name, reader in self._readers.items():
            reading = self.readings[name]
            reading.asked_at = reader.asked_at
            answer = reader.take()
            if answer is not None:
                self._apply(reading, answer, monotonic_now)
        if not self._started and all(r.answered_at or r.skipped for r in self.readings.values()):
            self._started = True
            # What start-up built (widgets, styles, caches, every service's console) lives as long
            # as the app: frozen, the collector stops re-scanning it in each full collection,
            # which took up to ~150 ms on the event loop with a service screen's flood running.
            gc.freeze()

    def _apply(self, reading: Reading, answer: Answer, monotonic_now: float) -> None:
        reading.answered_at, reading.error = monotonic_now, answer.error
        if answer.status is not None:
            reading.status = answer.status
        if answer.drift_at is not None:
            reading.drift_at = answer.drift_at
        self._dirty = True

    # ── drawing ──
    def redraw(self) -> None:
        """Rebuild the rows when something answered or a read is late; draw what changed."""
        self._take_answers()
        now, monotonic_now = self.clock(), time.monotonic()
        late = any(r.silent_for(monotonic_now) > self.stale_after for r in self.readings.values())
        if not (self._dirty or late):
            return
        self._dirty = False
        table = self.query_one(FleetTable)
        width = table.scrollable_content_region.width or self.app.size.width
        compact = width < WIDE
        self._all_rows = [
            row_for(r, now, monotonic_now, self.stale_after, compact)
            for r in self.readings.values()
        ]
        self._arrange()

    def _arrange(self) -> None:
        """Filter and sort the rows built last and draw them: what `s` and `/` change. The rows
        are not built again (nothing they show changed), and the table moves their lines."""
        table = self.query_one(FleetTable)
        width = table.scrollable_content_region.width or self.app.size.width
        self.rows = sorted(
            (row for row in self._all_rows if row.matches(self.needle)),
            key=lambda row: row.sort_keys[self.sort],
        )
        self.query_one("#fleet-columns", TextLine).show(table.show(self.rows, width))
        self.query_one(AppHeader).query_one("#header-info", TextLine).show(self._summary())
        self._show_detail()

    def _summary(self) -> Content:
        shown = len(self.rows)
        total = len(self.readings)
        count = f"{total} services" if shown == total else f"{shown} of {total} services"
        alerting = sum(1 for row in self.rows if row.alerts)
        parts: list[str | tuple[str, str]] = [
            ("bluegreen", "bold"),
            f"  {count} · sorted by {self.sort}",
        ]
        if self.needle:
            parts.append((f" · filter '{self.needle}'", "$accent"))
        if alerting:
            parts.append((f" · {alerting} with alerts", "$error"))
        return Content.assemble(*parts)

    def _show_detail(self) -> None:
        name = self.selected_name()
        row = next((r for r in self.rows if r.name == name), None)
        empty = Content.styled("no service matches the filter (esc clears it)", "$text-muted")
        self.query_one("#fleet-detail", TextLine).show(row.detail if row else empty)

    @on(OptionList.OptionHighlighted, "#fleet-table")
    def _highlighted(self) -> None:
        self._show_detail()

    # ── what the app asks ──
    def selected_name(self) -> str | None:
        """The selected row's service; None without a table: the app's once-a-second footer
        check (`_follow_migration`) can fire while this screen is composed or, at exit, after
        its widgets were removed — a NoMatches there ended the app with an error."""
        tables = self.query(FleetTable)
        return tables.first().selected_name() if tables else None

    def status_of(self, name: str) -> Status | None:
        reading = self.readings.get(name)
        return reading.status if reading else None

    def skipped_reason(self, name: str) -> str | None:
        reading = self.readings.get(name)
        return reading.skipped if reading else None

    # ── keys ──
    @on(OptionList.OptionSelected, "#fleet-table")
    def _selected(self) -> None:
        self.action_open_service()

    def action_open_service(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        why = self.skipped_reason(name)
        if why:
            self.notify(why, title=f"{name} is skipped", severity="error")
            return
        self._on_open(name)

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._arrange()

    def action_filter(self) -> None:
        self.query_one("#fleet-filter", Input).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#fleet-filter", Input)
        field.value = ""
        self.query_one(FleetTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return bool(self.needle) or self.query_one("#fleet-filter", Input).has_focus
        return True

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip().lower()
        self._arrange()

    @on(Input.Submitted, "#fleet-filter")
    def _filter_done(self) -> None:
        self.query_one(FleetTable).focus()

    def on_resize(self) -> None:
        self._dirty = True
        self.call_after_refresh(self.redraw)


class FleetScreen(FleetWatchScreen, inherit_bindings=False):
    """The operator's overview: the mutating keys act on the selected service."""

    BINDINGS = fleet_bindings(read_only=False)
    READ_ONLY = False
