"""The bluegreen operations console: a Textual front end over `console.core.service.Console`.

The app holds no deployment logic. It polls the store in a thread (one poll at a time, the next
scheduled only when the last one is handled), runs mutations in a thread worker that posts each
progress event as a Message, and shows refusals (read-only, lock held, gate) as sentences.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from console.core.lock import LockHeld
from console.core.model import (
    COLORS,
    Color,
    OperationEvent,
    Outcome,
    SpeedPoint,
    Status,
    SwitchPolicy,
    other,
)
from console.core.service import Console, OperationRefused
from console.tui.actions import MUTATING_ACTIONS, available
from console.tui.messages import OperationEnded, OperationStep, Polled, PollFailed
from console.tui.screens.canary import CanaryChoice, CanaryScreen, operation
from console.tui.screens.confirm_rollback import ConfirmRollbackScreen
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from console.tui.screens.deploy import DeployRequest, DeployScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.main import OperatorScreen, WatchScreen
from console.tui.screens.quit_confirm import QuitConfirmScreen
from console.tui.widgets.action_status import ActionStatus
from console.tui.widgets.events_pane import EventsPane
from console.tui.widgets.header import AppHeader
from console.tui.widgets.log_pane import LogPane
from console.tui.widgets.slot_panel import SlotPanel

POLL_SECONDS = 1.0
SWITCH_INTERVAL_SECONDS = 0.001
HISTORY_SECONDS = 3_600.0

PlanT = TypeVar("PlanT")


def _sentence(exc: BaseException, doing: str) -> str:
    """An operator-facing sentence for any failure: core errors already are; others get context."""
    if isinstance(exc, OperationRefused | LockHeld):
        return str(exc)
    detail = str(exc) or type(exc).__name__
    return f"Cannot {doing}: {detail}"


class BluegreenApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "bluegreen"
    # Screen classes by size: panels stack when narrow, the sparkline folds away when short.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]  # noqa: RUF012

    action_running: reactive[str | None] = reactive(None, bindings=True)
    # Not a bindings reactive: no key depends on it, and each bindings change rebuilds the footer.
    paused: reactive[bool] = reactive(False)

    def __init__(
        self,
        console: Console,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.backend = console
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.read_only = bool(console.read_only)
        self.status: Status | None = None
        self.history: dict[Color, list[SpeedPoint]] = {color: [] for color in COLORS}
        self.degraded: str | None = None
        self._last_event_id = 0
        self._stop_operation = threading.Event()
        self._outcome_seen = False
        self._exit_requested = False
        self.main: Screen[None]

    # ── screens and lookups ──
    def get_default_screen(self) -> Screen[None]:
        screen_class = WatchScreen if self.read_only else OperatorScreen
        self.main = screen_class(self.backend.follow_logs, on_ready=self._main_ready)
        return self.main

    def on_load(self) -> None:
        # The event loop shares the GIL with the log follower thread, which parses and redacts
        # thousands of lines a second in a flood. At Python's default 5 ms switch interval, each
        # of the event loop's many hand-offs between a key press and its frame could wait 5 ms
        # for the GIL; 1 ms keeps keys responsive for a little more switching overhead.
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)

    def _main_ready(self) -> None:
        self.main.query_one(AppHeader).set_badges(read_only=self.read_only, paused=False)
        # The widgets, styles and caches built so far live as long as the app. Freezing them
        # keeps the collector from re-scanning them in every full collection: under a log flood
        # those pauses were ~70 ms each on the event loop, the slowest key presses.
        gc.freeze()
        self._poll(self._last_event_id)

    # ── polling: a thread fetches; the handler renders and schedules the next one ──
    @work(thread=True, exclusive=True, group="poll", exit_on_error=False, description="poll")
    def _poll(self, after_id: int) -> None:
        try:
            status = self.backend.status()
            events = self.backend.events(after_id=after_id)
            since = self.clock() - HISTORY_SECONDS
            history = {color: self.backend.speed_history(color, since) for color in COLORS}
        except Exception as exc:  # any failure degrades the display, never the app
            self.post_message(PollFailed(_sentence(exc, "read the console's status")))
        else:
            self.post_message(Polled(status, events, history))

    def _schedule_poll(self) -> None:
        self.set_timer(self.poll_seconds, lambda: self._poll(self._last_event_id))

    def _drawable(self) -> bool:
        """False once the app shuts down: a late worker message must not touch removed widgets."""
        return not self._exit_requested and self.main.is_attached and self.is_running

    def on_polled(self, message: Polled) -> None:
        if not self._drawable():
            return
        self.status, self.history, self.degraded = message.status, message.history, None
        if message.events:
            self._last_event_id = max(event.id for event in message.events)
            self.main.query_one(EventsPane).add(message.events)
        self.render_status()
        self._schedule_poll()

    def on_poll_failed(self, message: PollFailed) -> None:
        if not self._drawable():
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
            if self.action_running:
                return None  # dimmed while another operation runs
        return True

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for spec in available(self.read_only):
            if spec.action not in ("quit", "help") and self.check_action(spec.action, ()):
                yield SystemCommand(spec.label, spec.tooltip, partial(self.run_action, spec.action))

    # ── mutations ──
    def action_deploy(self) -> None:
        if self.read_only:
            return
        try:
            images = self.backend.recent_images()
        except Exception as exc:
            images = []
            self.notify(_sentence(exc, "list recent images"), severity="warning")
        live = self.status.live if self.status else None
        target = other(live) if live else None
        self.push_screen(DeployScreen(images, self._default_policy(), target), self._deploy)

    def _default_policy(self) -> SwitchPolicy:
        try:
            return SwitchPolicy(self.backend.config.switch.policy)
        except (AttributeError, ValueError):
            return SwitchPolicy.CONFIRM

    def _deploy(self, request: DeployRequest | None) -> None:
        if request is not None:
            env = request.env or None
            self._start("deploy", lambda: self.backend.deploy(request.image, env, request.policy))

    def action_switch(self) -> None:
        plan = self._plan("switch", self.backend.plan_switch)
        if plan is None:
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                force = not plan.gate_met
                self._start("switch", lambda: self.backend.switch(force=force))

        self.push_screen(ConfirmSwitchScreen(plan), chosen)

    def action_rollback(self) -> None:
        plan = self._plan("rollback", self.backend.plan_rollback)
        if plan is None:
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._start("rollback", self.backend.rollback)

        self.push_screen(ConfirmRollbackScreen(plan), chosen)

    def action_canary(self) -> None:
        plan = self._plan("canary", self.backend.plan_switch)
        if plan is None:
            return

        def chosen(choice: CanaryChoice | None) -> None:
            if choice is not None:
                self._start(f"canary {choice.action}", operation(self.backend, choice))

        self.push_screen(CanaryScreen(plan, self.status.canary if self.status else None), chosen)

    def _plan(self, action: str, plan: Callable[[], PlanT]) -> PlanT | None:
        """The plan a confirmation shows, or None (read-only, or planning failed and was said)."""
        if self.read_only:
            return None
        try:
            return plan()
        except Exception as exc:
            self.notify(_sentence(exc, f"plan the {action}"), severity="error", title=action)
            return None

    def _start(self, action: str, begin: Callable[[], Iterator[OperationEvent]]) -> None:
        self.action_running = action
        self._outcome_seen = False
        self._stop_operation.clear()
        self.main.query_one(ActionStatus).start(action, self.clock())
        self._operate(action, begin)

    @work(thread=True, group="operation", exit_on_error=False, description="operation")
    def _operate(self, action: str, begin: Callable[[], Iterator[OperationEvent]]) -> None:
        events: Iterator[OperationEvent] | None = None
        try:
            events = begin()
            for event in events:
                self.post_message(OperationStep(action, event))
                if self._stop_operation.is_set():
                    break
        except Exception as exc:
            failure = Outcome(ok=False, text=_sentence(exc, action), at=self.clock())
            self.post_message(OperationStep(action, failure))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # on quit: GeneratorExit lets the operation release its lock cleanly
            self.post_message(OperationEnded(action))

    def on_operation_step(self, message: OperationStep) -> None:
        if not self._drawable():
            return
        status = self.main.query_one(ActionStatus)
        event = message.event
        if isinstance(event, Outcome):
            self._outcome_seen = True
            status.finish(message.action, event)
            verdict = "succeeded" if event.ok else "failed"
            severity: SeverityLevel = "information" if event.ok else "error"
            self.notify(event.text, title=f"{message.action} {verdict}", severity=severity)
        else:
            status.progress(message.action, event)

    def on_operation_ended(self, message: OperationEnded) -> None:
        if not self._drawable():
            return
        if not self._outcome_seen:
            text = "ended without reporting a result; check the events pane."
            self.main.query_one(ActionStatus).finish(
                message.action, Outcome(ok=False, text=text, at=self.clock())
            )
        self.action_running = None

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
        self.push_screen(HelpScreen(self.read_only))

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


def run_app(console: Console, clock: Callable[[], float] = time.time) -> int:
    """Run the console until the operator quits; returns the exit code."""
    app = BluegreenApp(console, clock=clock)
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
