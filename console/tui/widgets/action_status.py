"""Where a running deploy/switch/rollback reports its steps and, at the end, its outcome."""

from __future__ import annotations

from collections import deque

from textual.content import Content
from textual.widgets import Static

from console.core.model import Outcome, Progress
from console.tui.format import clock_time

STEP_LINES = 3
LEVEL_STYLES = {
    "info": "$foreground",
    "success": "$success",
    "warning": "$warning",
    "error": "bold $error",
}


class ActionStatus(Static):
    def __init__(self) -> None:
        super().__init__(id="action-status")
        self.lines: deque[Content] = deque(maxlen=STEP_LINES)
        self.outcome: Outcome | None = None
        self.update(Content.styled("no action running", "$text-muted"))

    def start(self, action: str, now: float) -> None:
        self.lines.clear()
        self.outcome = None
        self.lines.append(Content.styled(f"{clock_time(now)} ▶ {action} started…", "bold $accent"))
        self._show()

    def progress(self, action: str, step: Progress) -> None:
        text = f"{clock_time(step.at)}   {action}: {step.text}"
        self.lines.append(Content.styled(text, LEVEL_STYLES[step.level]))
        self._show()

    def finish(self, action: str, outcome: Outcome) -> None:
        self.outcome = outcome
        mark, style = ("✓", "bold $success") if outcome.ok else ("✗", "bold $error")
        cutover = f" (cutover {outcome.cutover_ms:.0f} ms)" if outcome.cutover_ms else ""
        text = f"{clock_time(outcome.at)} {mark} {action}: {outcome.text}{cutover}"
        self.lines.append(Content.styled(text, style))
        self._show()

    def _show(self) -> None:
        self.update(Content("\n").join(self.lines))
