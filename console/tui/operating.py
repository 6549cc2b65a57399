"""The app's mutations: deploy, switch, roll back, canary and retiring a session-kept switch's old
colour, each on the service they target.

Each asks first (a dialog naming the service when the console has several), then runs in a
thread worker that posts every progress event as a Message. One operation runs at a time in a
console; its steps show in the action line of whichever screen is open, and its outcome is
notified wherever the operator is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

from textual import work
from textual.app import App
from textual.notifications import SeverityLevel
from textual.reactive import reactive

from console.core.lock import LockHeld
from console.core.model import OperationEvent, Outcome, Status, SwitchPolicy, other
from console.core.service import Console, OperationRefused
from console.tui.messages import OperationEnded, OperationStep
from console.tui.screens.canary import CanaryChoice, CanaryScreen, operation
from console.tui.screens.confirm_retire import ConfirmRetireScreen
from console.tui.screens.confirm_rollback import ConfirmRollbackScreen
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from console.tui.screens.deploy import DeployRequest, DeployScreen
from console.tui.screens.rollback_to import ConfirmRollbackToScreen, RollbackToScreen
from console.tui.widgets.action_status import ActionStatus

PlanT = TypeVar("PlanT")


def sentence(exc: BaseException, doing: str) -> str:
    """An operator-facing sentence for any failure: core errors already are; others get context."""
    if isinstance(exc, OperationRefused | LockHeld):
        return str(exc)
    detail = str(exc) or type(exc).__name__
    return f"Cannot {doing}: {detail}"


class Target(NamedTuple):
    """The service an action acts on: its name when the console has several (None with one)."""

    name: str | None
    console: Console
    status: Status | None

    def label(self, action: str) -> str:
        return f"{action} {self.name}" if self.name else action


class OperatingApp(App[int]):
    action_running: reactive[str | None] = reactive(None, bindings=True)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self.read_only = True
        self._stop_operation = threading.Event()
        self._outcome_seen = False
        self._exit_requested = False

    # What the app that extends this says: which service a key acts on, and where steps show.
    def target(self) -> Target | None:
        raise NotImplementedError

    def action_line(self) -> ActionStatus | None:
        """The action line of the screen the operator is on (under any dialog)."""
        for screen in reversed(self.screen_stack):
            lines: list[ActionStatus] = list(screen.query(ActionStatus).results(ActionStatus))
            if lines:
                return lines[0]
        return None

    # ── mutations ──
    def action_deploy(self) -> None:
        target = None if self.read_only else self.target()
        if target is None:
            return
        try:
            images = target.console.recent_images()
        except Exception as exc:
            images = []
            self.notify(sentence(exc, "list recent images"), severity="warning")
        live = target.status.live if target.status else None
        colour = other(live) if live else None
        policy = _default_policy(target.console)

        def chosen(request: DeployRequest | None) -> None:
            if request is not None:
                env = request.env or None
                begin = lambda: target.console.deploy(request.image, env, request.policy)  # noqa: E731
                self._start(target.label("deploy"), begin)

        self.push_screen(DeployScreen(images, policy, colour, target.name), chosen)

    def action_switch(self) -> None:
        target, plan = self._plan("switch", lambda console: console.plan_switch())
        if target is None or plan is None:
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                force = not plan.gate_met
                self._start(target.label("switch"), lambda: target.console.switch(force=force))

        self.push_screen(ConfirmSwitchScreen(plan, target.name), chosen)

    def action_rollback(self) -> None:
        target, plan = self._plan("rollback", lambda console: console.plan_rollback())
        if target is None or plan is None:
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._start(target.label("rollback"), target.console.rollback)

        self.push_screen(ConfirmRollbackScreen(plan, target.name), chosen)

    def action_rollback_to(self) -> None:
        """Pick a retained version, confirm, then deploy → catch up → switch (or instant)."""
        target, versions = self._plan("roll back to", lambda console: console.retained_versions())
        if target is None or versions is None:
            return

        def picked(version: str | None) -> None:
            if not version:
                return
            try:
                plan = target.console.plan_named_rollback(version)
            except Exception as exc:
                title = target.label("roll back to")
                self.notify(sentence(exc, "plan the rollback"), severity="error", title=title)
                return

            def chosen(confirmed: bool | None) -> None:
                if confirmed:
                    label = target.label(f"rollback to {plan.version}")
                    self._start(label, lambda: target.console.rollback_to(plan))

            self.push_screen(ConfirmRollbackToScreen(plan, target.name), chosen)

        self.push_screen(RollbackToScreen(versions, target.name), picked)

    def action_canary(self) -> None:
        target, plan = self._plan("canary", lambda console: console.plan_switch())
        if target is None or plan is None:
            return

        def chosen(choice: CanaryChoice | None) -> None:
            if choice is not None:
                label = target.label(f"canary {choice.action}")
                self._start(label, operation(target.console, choice))

        current = target.status.canary if target.status else None
        self.push_screen(CanaryScreen(plan, current, target.name), chosen)

    def action_retire_sessions(self) -> None:
        """End a session-kept switch: confirm naming the service and the sessions left, then
        stop the old colour (`bluegreen sessions retire`)."""
        target, view = self._plan("retire", lambda console: console.sessions())
        if target is None:
            return
        if view is None:
            self.notify(
                "No session-kept switch is in progress: nothing to retire.",
                title=target.label("retire"),
                severity="warning",
            )
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._start(target.label("retire"), target.console.sessions_retire)

        service = target.name or target.console.config.service
        self.push_screen(ConfirmRetireScreen(view, service), chosen)

    def _plan(
        self, action: str, plan: Callable[[Console], PlanT]
    ) -> tuple[Target | None, PlanT | None]:
        """The target and the plan its dialog shows, or Nones (read-only, no target, or planning
        failed and was said)."""
        target = None if self.read_only else self.target()
        if target is None:
            return None, None
        try:
            return target, plan(target.console)
        except Exception as exc:
            title = target.label(action)
            self.notify(sentence(exc, f"plan the {action}"), severity="error", title=title)
            return None, None

    def _start(self, action: str, begin: Callable[[], Iterator[OperationEvent]]) -> None:
        self.action_running = action
        self._outcome_seen = False
        self._stop_operation.clear()
        line = self.action_line()
        if line is not None:
            line.start(action, self.clock())
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
            failure = Outcome(ok=False, text=sentence(exc, action), at=self.clock())
            self.post_message(OperationStep(action, failure))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # on quit: GeneratorExit lets the operation release its lock cleanly
            self.post_message(OperationEnded(action))

    def _operating(self) -> bool:
        """False once the app shuts down: a late worker message must not touch removed widgets."""
        return not self._exit_requested and self.is_running

    def on_operation_step(self, message: OperationStep) -> None:
        if not self._operating():
            return
        line = self.action_line()
        event = message.event
        if isinstance(event, Outcome):
            self._outcome_seen = True
            if line is not None:
                line.finish(message.action, event)
            verdict = "succeeded" if event.ok else "failed"
            severity: SeverityLevel = "information" if event.ok else "error"
            self.notify(event.text, title=f"{message.action} {verdict}", severity=severity)
        elif line is not None:
            line.progress(message.action, event)

    def on_operation_ended(self, message: OperationEnded) -> None:
        if not self._operating():
            return
        line = self.action_line()
        if not self._outcome_seen and line is not None:
            text = "ended without reporting a result; check the events pane."
            line.finish(message.action, Outcome(ok=False, text=text, at=self.clock()))
        self.action_running = None


def _default_policy(console: Console) -> SwitchPolicy:
    try:
        return SwitchPolicy(console.config.switch.policy)
    except (AttributeError, ValueError):
        return SwitchPolicy.CONFIRM
