"""The audit trail: deploys, milestones, switches, rollbacks and failures, with who did them."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from console.core.model import EventRecord
from console.tui.format import moment

MAX_EVENTS = 200
LEVEL_STYLES = {
    "info": "$foreground",
    "success": "$success",
    "warning": "$warning",
    "error": "bold $error",
}
COLOR_STYLES = {"blue": "$primary", "green": "$success"}


def event_content(event: EventRecord, now: float) -> Content:
    color = (event.color or "", COLOR_STYLES.get(event.color or "", ""))
    return Content.assemble(
        (moment(event.at, now), "$text-muted"),
        " ",
        (f"{event.kind:<9}", "bold"),
        " ",
        (f"{color[0]:<5}", color[1]),
        " ",
        (event.text, LEVEL_STYLES.get(event.level, "")),
        (f"  — {event.actor}", "$text-muted"),
    )


class EventsPane(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="events-pane")
        self.border_title = "events"
        self.events: deque[EventRecord] = deque(maxlen=MAX_EVENTS)
        self._rendered_id = -1

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("no events yet", "$text-muted"), id="events-list")

    def add(self, events: list[EventRecord]) -> None:
        """Keep new events; rendering waits for `render_events` (skipped while paused)."""
        self.events.extend(events)

    def render_events(self, now: float) -> None:
        last_id = self.events[-1].id if self.events else -1
        if last_id == self._rendered_id:
            return
        self._rendered_id = last_id
        at_end = self.is_vertical_scroll_end
        lines = Content("\n").join(event_content(event, now) for event in self.events)
        self.query_one("#events-list", Static).update(lines)
        if at_end:
            self.call_after_refresh(self.scroll_end, animate=False)
