"""The bluegreen operations console: a Textual front end over `console.core.service.Console`.

The app holds no deployment logic. It polls the store in a thread (one poll at a time, the next
scheduled only when the last one is handled), runs mutations in a thread worker that posts each
progress event as a Message (console/tui/operating.py), and shows refusals (read-only, lock held,
gate) as sentences.

Given several services (a mapping of name → Console, built by the CLI), it opens on the overview
(console/tui/screens/fleet.py); enter opens a service's blue/green screen and esc comes back.
Given one, it opens straight on that service's screen, as it always has. The last `KEPT_SCREENS`
service screens opened stay alive behind the overview (their log follower and polls stopped), so
opening one again is a push, not a rebuild, and memory does not grow with openings.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from textual import work
from textual.app import SystemCommand
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from console.core.model import COLORS, Color, SpeedPoint, Status, other
from console.core.service import Console
from console.tui.actions import (
    MUTATING_ACTIONS,
    ActionSpec,
    fleet_available,
    service_available,
)
from console.tui.messages import Polled, PollFailed
from console.tui.operating import OperatingApp, Target, sentence
from console.tui.screens.fleet import FleetScreen, FleetWatchScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.main import (
    FleetOperatorScreen,
    FleetServiceWatchScreen,
    OperatorScreen,
    WatchScreen,
)
from console.tui.screens.quit_confirm import QuitConfirmScreen
from console.tui.widgets.events_pane import EventsPane
from console.tui.widgets.header import AppHeader
from console.tui.widgets.log_pane import LogPane
from console.tui.widgets.slot_panel import SlotPanel

POLL_SECONDS = 1.0
SWITCH_INTERVAL_SECONDS = 0.001
# The collector's thresholds while the console runs (Python's: 700, 10, 10). Under a log flood the
# app allocates container objects (strips, segments, styles) some 25,000 a second more than it
# frees, most of them dropped within a frame or two; at 700 a young collection ran 36 times a
# second and promoted such objects to the oldest generation, whose growth then triggered a full
# collection every few seconds (23 in 90 s): ~60 ms each, up to 127 ms, on the event loop, half
# of them inside a key press — the overview's slowest keys (bench/tui_fleet.py counts them).
# Collecting the youngest generation every 10,000 allocations lets them die young: no full
# collection in a 90 s flood. One still comes once the oldest generation has grown by a quarter
# (Python's rule), so memory stays bounded.
GC_THRESHOLDS = (10_000, 10, 10)
HISTORY_SECONDS = 3_600.0
# Service screens kept alive after esc (least recently opened dropped first): composing one costs
# ~150 ms, re-showing a kept one a frame; each kept screen holds its panels and ≤ 2,000 log lines.
KEPT_SCREENS = 4


class BluegreenApp(OperatingApp):
    CSS_PATH = "app.tcss"
    TITLE = "bluegreen"
    # Screen classes by size: panels stack when narrow, the sparkline folds away when short.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]  # noqa: RUF012

    # Not a bindings reactive: no key depends on it, and each bindings change rebuilds the footer.
    paused: reactive[bool] = reactive(False)

    def __init__(
        self,
        console: Console | Mapping[str, Console],
        clock: Callable[[], float] = time.time,
        poll_seconds: float = POLL_SECONDS,
        skipped: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(clock)
        consoles = dict(console) if isinstance(console, Mapping) else {"": console}
        if not consoles:
            raise ValueError("the console needs at least one service")
        self.consoles: dict[str, Console] = consoles
        self.skipped = dict(skipped or {})
        # The overview when there is more than one row to show; one service opens straight on it.
        self.fleet = len(consoles) + len(self.skipped) > 1
        self.service_name: str | None = None  # the open service's name, in a fleet
        self.backend = next(iter(consoles.values()))
        self.poll_seconds = poll_seconds
        self.read_only = bool(self.backend.read_only)
        self.status: Status | None = None
        self.history: dict[Color, list[SpeedPoint]] = {color: [] for color in COLORS}
        self.degraded: str | None = None
        self._last_event_id = 0
        self._generation = 0  # which opening of a service screen a poll belongs to
        self._frozen = False
        self.main: Screen[None]  # the service's screen; in a fleet, the last one opened
        self.overview: FleetWatchScreen | None = None
        # Service name → its screen kept after esc, and the last event id that screen has shown.
        self._kept: OrderedDict[str, Screen[None]] = OrderedDict()
        self._kept_event_ids: dict[str, int] = {}
        self._retire_offered = False  # the retire key is in the footer (a migration runs)

    # ── screens and lookups ──
    def get_default_screen(self) -> Screen[None]:
        if self.fleet:
            screen_class = FleetWatchScreen if self.read_only else FleetScreen
            self.overview = screen_class(
                self.consoles, self.skipped, self.open_service, self.clock, self.poll_seconds
            )
            return self.overview
        return self._service_screen()

    def _service_screen(self) -> Screen[None]:
        screen_class: type[WatchScreen]
        if self.fleet:
            screen_class = FleetServiceWatchScreen if self.read_only else FleetOperatorScreen
        else:
            screen_class = WatchScreen if self.read_only else OperatorScreen
        self._generation += 1
        self.status, self.degraded, self._last_event_id = None, None, 0
        self.history = {color: [] for color in COLORS}
        screen_id = None if self.fleet else "main"  # the fleet keeps several alive at once
        self.main = screen_class(self.backend.follow_logs, on_ready=self._main_ready, id=screen_id)
        return self.main

    def open_service(self, name: str) -> None:
        """The overview's enter: that service's blue/green screen, over the overview."""
        self.service_name, self.backend = name, self.consoles[name]
        kept = self._kept.pop(name, None)
        screen = self._service_screen() if kept is None else self._reopen(name, kept)
        if kept is None:
            self.install_screen(screen, f"service {name}")  # so esc keeps it, not removes it
        self._kept[name] = screen
        while len(self._kept) > KEPT_SCREENS:
            _, oldest = self._kept.popitem(last=False)
            self.uninstall_screen(oldest)
            oldest.remove()
        self.push_screen(screen)

    def _reopen(self, name: str, screen: Screen[None]) -> Screen[None]:
        """A kept screen shown again: it shows its last values until its first poll answers."""
        self._generation += 1
        self.status, self.degraded = None, None
        self.history = {color: [] for color in COLORS}
        self._last_event_id = self._kept_event_ids.get(name, 0)  # its events pane has those
        self.main = screen
        screen.query_one(LogPane).resume()
        self._poll(self._last_event_id, self._generation)
        return screen

    def action_overview(self) -> None:
        """esc on a service's screen: back to the overview; the screen is kept, its polls and log
        follower end."""
        if self.overview is not None and self.screen is getattr(self, "main", None):
            self._generation += 1  # its poll chain ends at its next answer
            if self.service_name is not None:
                self._kept_event_ids[self.service_name] = self._last_event_id
            self.main.query_one(LogPane).suspend()
            self.pop_screen()

    def target(self) -> Target | None:
        """The service a key acts on: the open one, or the overview's selected row."""
        if self.overview is None or self._base_screen() is not self.overview:
            return Target(self.service_name, self.backend, self.status)
        name = self.overview.selected_name()
        if name is None:
            self.notify("No service is selected (the filter hides every row).", severity="warning")
            return None
        why = self.overview.skipped_reason(name)
        if why:
            self.notify(why, title=f"{name} is skipped", severity="error")
            return None
        return Target(name, self.consoles[name], self.overview.status_of(name))

    def _base_screen(self) -> Screen[object]:
        """The screen under any dialog: the overview or a service's screen."""
        stack: list[Screen[object]] = list(self.screen_stack)
        return next((s for s in reversed(stack) if not isinstance(s, ModalScreen)), self.screen)

    def on_load(self) -> None:
        # The event loop shares the GIL with the log follower thread, which parses and redacts
        # thousands of lines a second in a flood. At Python's default 5 ms switch interval, each
        # of the event loop's many hand-offs between a key press and its frame could wait 5 ms
        # for the GIL; 1 ms keeps keys responsive for a little more switching overhead.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        gc.set_threshold(*GC_THRESHOLDS)

    def on_mount(self) -> None:
        if not self.read_only:  # the overview's polls are its own: look once a second
            self.set_interval(POLL_SECONDS, self._follow_migration)

    def _main_ready(self) -> None:
        self.main.query_one(AppHeader).set_badges(read_only=self.read_only, paused=False)
        # The widgets, styles and caches built so far live as long as the app. Freezing them
        # keeps the collector from re-scanning them in every full collection: under a log flood
        # those pauses were ~70 ms each on the event loop, the slowest key presses. Once only:
        # a service screen opened from the overview is dropped at esc, and frozen objects are
        # never collected (freezing at every opening kept every closed screen, ~3 MB each).
        if not self._frozen:
            self._frozen = True
            gc.freeze()
        self._poll(self._last_event_id, self._generation)

    # ── polling: a thread fetches; the handler renders and schedules the next one ──
    @work(thread=True, exclusive=True, group="poll", exit_on_error=False, description="poll")
    def _poll(self, after_id: int, generation: int, wait: float = 0.0) -> None:
        backend = self.backend
        try:
            if wait:  # the next poll: at the store's next commit, at the latest after `wait`
                backend.wait_for_change(wait)
            status = backend.status()
            events = backend.events(after_id=after_id)
            since = self.clock() - HISTORY_SECONDS
            history = {color: backend.speed_history(color, since) for color in COLORS}
        except Exception as exc:  # any failure degrades the display, never the app
            self.post_message(PollFailed(sentence(exc, "read the console's status"), generation))
        else:
            self.post_message(Polled(status, events, history, generation))

    def _schedule_poll(self) -> None:
        generation = self._generation
        if self.backend.notices_changes:  # a shared store: woken by any host's commit
            self._poll(self._last_event_id, generation, self.poll_seconds)
            return
        self.set_timer(self.poll_seconds, lambda: self._poll(self._last_event_id, generation))

    def _drawable(self, generation: int) -> bool:
        """False once the app shuts down or the screen polled for has closed: a late worker
        message must not touch removed widgets, nor draw one service's data on another's."""
        return (
            generation == self._generation
            and not self._exit_requested
            and self.main.is_attached
            and self.is_running
        )

    def on_polled(self, message: Polled) -> None:
        if not self._drawable(message.generation):
            return
        self.status, self.history, self.degraded = message.status, message.history, None
        if message.events:
            self._last_event_id = max(event.id for event in message.events)
            self.main.query_one(EventsPane).add(message.events)
        self.render_status()
        self._schedule_poll()
        if not self.read_only:
            self._follow_migration()

    def on_poll_failed(self, message: PollFailed) -> None:
        if not self._drawable(message.generation):
            return
        self.degraded = message.reason
        self.render_status()
        self._schedule_poll()

    def render_status(self) -> None:
        """Draw the latest data; pausing skips this, not the polls."""
        if self.paused:
            return
        now = self.clock()
        main = self.main
        main.query_one(AppHeader).show(self.status, self.degraded, now)
        if self.status is not None:
            catchup = self.backend.config.catchup
            for color in COLORS:
                panel = main.query_one(f"#panel-{color}", SlotPanel)
                slot = self.status.slots.get(color)
                if slot is not None:
                    panel.show(
                        slot, self.status.live == color, self.history[color], now, catchup=catchup
                    )
        main.query_one(EventsPane).render_events(now)

    # ── key availability follows state ──
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING_ACTIONS:
            if self.read_only:
                return False  # never offered (and never bound on the watch screen)
            if action == "retire_sessions" and not self._migrating():
                return False  # offered only while a session-kept switch runs
            if self.action_running:
                return None  # dimmed while another operation runs
        return True

    def _migrating(self) -> bool:
        """Whether the service a key acts on has a session-kept switch in progress (as polled)."""
        if self.overview is not None and self._base_screen() is self.overview:
            name = self.overview.selected_name()
            status = self.overview.status_of(name) if name else None
        else:
            status = self.status
        return status is not None and status.sessions is not None

    def _follow_migration(self) -> None:
        """The retire key comes and goes with the migration (and the overview's selection):
        the footer is rebuilt only when that changes."""
        migrating = self._migrating()
        if migrating != self._retire_offered:
            self._retire_offered = migrating
            self.refresh_bindings()

    def _keys(self) -> tuple[ActionSpec, ...]:
        """The keys of the screen the operator is on: the overview's or a service screen's."""
        if self.overview is not None and self._base_screen() is self.overview:
            return fleet_available(self.read_only)
        return service_available(self.read_only, in_fleet=self.fleet)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for spec in self._keys():
            if spec.action in ("open_service", "cycle_sort", "filter", "overview"):
                continue  # screen keys: pressing them is quicker than finding them here
            if spec.action not in ("quit", "help") and self.check_action(spec.action, ()):
                yield SystemCommand(spec.label, spec.tooltip, partial(self.run_action, spec.action))

    # ── view actions ──
    def action_show_logs(self, color: Color) -> None:
        self.main.query_one(LogPane).show_color(color)

    def action_toggle_log_color(self) -> None:
        pane = self.main.query_one(LogPane)
        pane.show_color(other(pane.color))

    def action_toggle_follow(self) -> None:
        self.main.query_one(LogPane).toggle_follow()

    def action_toggle_wrap(self) -> None:
        self.main.query_one(LogPane).toggle_wrap()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.main.query_one(AppHeader).set_badges(read_only=self.read_only, paused=self.paused)
        self.main.query_one(LogPane).set_paused(self.paused)
        self.render_status()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self._keys(), self.read_only))

    async def action_quit(self) -> None:
        if not self.action_running:
            self._exit_requested = True
            self.exit(0)
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._stop_operation.set()
                self._exit_requested = True
                self.exit(0)

        self.push_screen(QuitConfirmScreen(self.action_running), chosen)


def run_app(
    console: Console | Mapping[str, Console],
    clock: Callable[[], float] = time.time,
    skipped: Mapping[str, str] | None = None,
) -> int:
    """Run the console until the operator quits; returns the exit code. Several consoles (by
    service name) open on the overview; `skipped` are services whose files did not load."""
    app = BluegreenApp(console, clock=clock, skipped=skipped)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
