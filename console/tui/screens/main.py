"""The dashboard screen. Two classes so a read-only console never even binds the mutating keys,
and two more for a service opened from the overview: they add esc, back to the overview."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen

from console.tui.actions import bindings
from console.tui.widgets.action_status import ActionStatus
from console.tui.widgets.events_pane import EventsPane
from console.tui.widgets.header import AppHeader
from console.tui.widgets.log_pane import FollowLogs, LogPane
from console.tui.widgets.slot_panel import SlotPanel
from console.tui.widgets.steady_footer import SteadyFooter


class WatchScreen(Screen[None]):
    """Read-only dashboard: view keys only."""

    BINDINGS = bindings(read_only=True)  # type: ignore[assignment]

    def __init__(
        self, follow_logs: FollowLogs, on_ready: Callable[[], None], id: str | None = "main"
    ) -> None:
        super().__init__(id=id)  # several services' screens are kept alive at once: none then
        self._follow_logs = follow_logs
        self._on_ready = on_ready

    def on_mount(self) -> None:
        self._on_ready()  # the app starts polling only once there is something to draw on

    def compose(self) -> ComposeResult:
        yield AppHeader(id="header")
        with Horizontal(id="slots"):
            yield SlotPanel("blue")
            yield SlotPanel("green")
        with Horizontal(id="bottom"):
            yield LogPane(self._follow_logs)
            yield EventsPane()
        yield ActionStatus()
        yield SteadyFooter(compact=True, show_command_palette=False)


class OperatorScreen(WatchScreen, inherit_bindings=False):
    """Operator dashboard: view keys plus deploy / switch / roll back."""

    BINDINGS = bindings(read_only=False)


class FleetServiceWatchScreen(WatchScreen, inherit_bindings=False):
    """A service's read-only dashboard opened from the overview."""

    BINDINGS = bindings(read_only=True, in_fleet=True)


class FleetOperatorScreen(WatchScreen, inherit_bindings=False):
    """A service's operator dashboard opened from the overview."""

    BINDINGS = bindings(read_only=False, in_fleet=True)
