"""The selected colour's container logs: followed in a thread, written once per tick, plain text.

The service logs thousands of lines a second while re-indexing, so the follower thread only
appends to a bounded deque; a 200 ms timer drains the newest lines with a single `write_lines`.
The widget is `Log` (plain strings, rendered lazily per visible row: ~10x cheaper than RichLog at
20k lines/s), so nothing is ever interpreted as markup; lines are also stripped of ANSI and
control codes, and wrapping is done here by cutting lines at the pane's width.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterator

from rich.cells import chop_cells
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Log

from console.core.model import Color
from console.tui.widgets.text_line import TextLine

MAX_LINES = 2_000
# Longer lines are cut: a 100 kB line would otherwise become 1,000+ wrapped rows.
MAX_LINE_CHARS = 2_000
FLUSH_SECONDS = 0.2
# Lines drawn per flush, at most (5 flushes a second): a human reads far fewer.
MAX_FLUSH_LINES = 200
RETRY_SECONDS = 5.0

FollowLogs = Callable[[Color, threading.Event], Iterator[str]]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def plain_line(raw: str | bytes) -> str:
    """One log line as inert text: no ANSI, no control characters, bounded length."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n")
    if not text.isprintable():  # C-speed fast path: most lines need no cleaning at all
        text = _CONTROL.sub("�", _ANSI.sub("", text)).expandtabs(4)
    if len(text) > MAX_LINE_CHARS:
        text = f"{text[:MAX_LINE_CHARS]} … [{len(text) - MAX_LINE_CHARS:,} more characters]"
    return text


class _Follower:
    """One follow session: its colour, the event that stops it, and its pending lines."""

    def __init__(self, color: Color) -> None:
        self.color = color
        self.stop = threading.Event()
        self.pending: deque[str | bytes] = deque(maxlen=MAX_LINES)
        self.dropped = 0  # lines pushed out of the full deque (while paused, say), for the note

    def add(self, line: str | bytes) -> None:
        if len(self.pending) == MAX_LINES:
            self.dropped += 1
        self.pending.append(line)

    def take(self) -> list[str]:
        """The newest `MAX_FLUSH_LINES` pending lines, after one note for any skipped.

        At thousands of lines a second nobody reads every line; drawing them all kept the event
        loop busy long enough to delay key presses. `bluegreen logs` and `docker logs` have them.
        """
        pending = self.pending
        skipped = max(0, len(pending) - MAX_FLUSH_LINES)
        for _ in range(skipped):
            pending.popleft()
        batch = [plain_line(pending.popleft()) for _ in range(len(pending))]
        skipped, self.dropped = skipped + self.dropped, 0
        if skipped:
            batch.insert(
                0, f"… {skipped:,} lines skipped: arriving faster than a screen can show …"
            )
        return batch


class LogPane(Vertical):
    def __init__(self, follow_logs: FollowLogs, color: Color = "blue") -> None:
        super().__init__(id="log-pane")
        self._follow_logs = follow_logs
        self.color: Color = color
        self.follow = True
        self.wrap = False
        self.paused = False
        self.unseen = 0  # lines that arrived while scrolled up / not following
        self._shown: deque[str] = deque(maxlen=MAX_LINES)  # to re-render when wrap changes
        self._follower: _Follower | None = None
        self._pinned_y = 0.0  # where following last scrolled to; above it = the operator scrolled

    def compose(self) -> ComposeResult:
        yield TextLine(id="log-title")
        yield Log(id="log", max_lines=MAX_LINES, highlight=False, auto_scroll=False)
        yield TextLine(id="log-new-lines")

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.show_color(self.color)

    def on_unmount(self) -> None:
        self._stop_following()

    def _stop_following(self) -> None:
        if self._follower:
            self._follower.stop.set()
            self._follower = None

    def suspend(self) -> None:
        """Stop following and drop the lines (its screen is kept while hidden); `resume` follows
        again from the container's last lines (as it would anyway: `show_color` starts afresh), so a
        kept pane does not hold 2,000 lines and their rendered rows for nothing meanwhile."""
        self._stop_following()
        self._shown.clear()
        self.query_one("#log", Log).clear()

    def resume(self) -> None:
        self.show_color(self.color)

    @property
    def lines(self) -> list[str]:
        """The lines currently held by the pane (for tests and re-rendering)."""
        return list(self._shown)

    def show_color(self, color: Color) -> None:
        if self._follower:
            self._follower.stop.set()  # the old thread ends at its next line or wait
        self.color = color
        self._follower = _Follower(color)
        self._shown.clear()
        self.unseen = 0
        self._pinned_y = 0.0
        self.query_one("#log", Log).clear()
        self._update_labels()
        self._run_follower(self._follower)

    @work(thread=True, group="log-follow", exit_on_error=False, description="follow logs")
    def _run_follower(self, follower: _Follower) -> None:
        last_note = ""
        while not follower.stop.is_set():
            try:
                for raw in self._follow_logs(follower.color, follower.stop):
                    follower.add(raw)  # cleaned on the UI thread, per batch
                    if follower.stop.is_set():
                        return
                note = (
                    f"— {follower.color} log stream ended; reconnecting every {RETRY_SECONDS:g} s —"
                )
            except Exception as exc:  # any failure is shown in the pane, never raised
                note = f"— cannot read {follower.color} logs: {plain_line(str(exc))} —"
            if note != last_note:
                follower.add(note)
                last_note = note
            follower.stop.wait(RETRY_SECONDS)

    def flush(self) -> None:
        """Drain the follower's lines into the log: one write per tick, skipped while paused."""
        follower = self._follower
        if self.paused or follower is None:
            return
        log = self.query_one("#log", Log)
        batch = follower.take()
        # Scrolled up by hand (wheel, keys) means "let me read": stay put and count what arrives.
        pinned = self.follow and (log.is_vertical_scroll_end or log.scroll_y >= self._pinned_y)
        if pinned:
            self.unseen = 0
        if batch:
            self._shown.extend(batch)
            log.write_lines(self._rows(batch), scroll_end=False)
            if not pinned:
                self.unseen += len(batch)
        # Also with no new lines: a layout change after the last scroll (the pane got shorter
        # when the rows above it were drawn) leaves the end below the view, and a flood that has
        # stopped brings no next write to scroll — the pane claimed to follow, rows short of it.
        if pinned and (batch or not log.is_vertical_scroll_end):
            self._scroll_to_end()
        self._update_labels()

    def _scroll_to_end(self) -> None:
        # At once, so new lines and the scroll make one frame, not two. `Log.write_lines` would
        # scroll only if it was already at the end, so one write that overshot the height left
        # the pane counting "+N new lines" forever; where this scroll lands is remembered instead.
        log = self.query_one("#log", Log)
        log.scroll_end(animate=False, immediate=True, x_axis=False)
        self._pinned_y = log.scroll_y

    def toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self._scroll_to_end()
            self.unseen = 0
        self._update_labels()

    def toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._rewrite()
        self._update_labels()

    def on_resize(self) -> None:
        if self.wrap:
            self._rewrite()  # wrapped rows depend on the width

    def _rows(self, lines: list[str]) -> list[str]:
        if not self.wrap:
            return lines
        width = max(10, self.query_one("#log", Log).scrollable_content_region.width)
        return [row for line in lines for row in (chop_cells(line, width) or [""])]

    def _rewrite(self) -> None:
        log = self.query_one("#log", Log)
        log.clear()
        log.write_lines(self._rows(list(self._shown)), scroll_end=False)
        if self.follow:
            self._scroll_to_end()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.flush()

    def _update_labels(self) -> None:
        # Called every flush; the TextLines skip the redraw when nothing changed.
        style = "bold $primary" if self.color == "blue" else "bold $success"
        modes = ["following" if self.follow else "not following", "wrap" if self.wrap else ""]
        title = Content.assemble(
            "logs ", (self.color, style), f"  {' · '.join(m for m in modes if m)}"
        )
        self.query_one("#log-title", TextLine).show(title)
        counter = self.query_one("#log-new-lines", TextLine)
        counter.display = self.unseen > 0
        counter.show(
            Content.styled(f"+{self.unseen:,} new lines — press f to follow", "bold $accent")
        )
