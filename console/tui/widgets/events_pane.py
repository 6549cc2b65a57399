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
    """Shows the newest events and follows new ones (like `tail -f`) until the operator scrolls up.

    `following` is decided by where the last scroll put the pane, never by asking "at the end?"
    when events arrive: before the first layout that answer was a matter of timing, so the pane
    followed or not by chance (a flaky snapshot). Textual's `anchor()` would do this, but in 8.2
    it drops short content to the bottom of the pane and rarely re-engages after a scroll.
    """

    def __init__(self) -> None:
        super().__init__(id="events-pane")
        self.border_title = "events"
        self.events: deque[EventRecord] = deque(maxlen=MAX_EVENTS)
        self._rendered_id = -1
        self.following = True

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("no events yet", "$text-muted"), id="events-list")

    def add(self, events: list[EventRecord]) -> None:
        """Keep new events; rendering waits for `render_events` (skipped while paused)."""
        self.events.extend(events)

    def render_events(self, now: float) -> None:
        # Every poll, new events or not: a layout made while this screen was hidden (the
        # overview keeps services' screens) scrolled nothing, so the end may have moved since.
        self._follow()
        last_id = self.events[-1].id if self.events else -1
        if last_id == self._rendered_id:
            return
        self._rendered_id = last_id
        lines = Content("\n").join(event_content(event, now) for event in self.events)
        self.query_one("#events-list", Static).update(lines)

    def _follow(self) -> None:
        if self.following and not self.is_vertical_scroll_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_virtual_size(self) -> None:
        # The content's height changed (new events, lines wrapped anew when the scrollbar
        # appeared or the width changed); the end is known once the layout is done.
        self.call_after_refresh(self._follow)

    def on_resize(self) -> None:
        self._follow()  # a shorter pane moves the end too, its content unchanged

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Only scrolls move scroll_y (content growing below leaves it be): one that stops short
        # of the end is the operator reading back; one that reaches it (theirs or ours) follows.
        self.following = new_value >= self.max_scroll_y
