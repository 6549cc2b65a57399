"""A colour's recent traffic: req/s and 5xx/s as two one-row sparklines, and — on the colour that
is no longer live — its remaining open requests and websockets counting down to 0.

The history is this console's own (one point per new reading the agent publishes), a few minutes
long: the agent keeps no traffic history, and a sparkline is for the shape, not for figures.
"""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from console.core.measures.traffic import TrafficFigures
from console.tui.widgets.text_line import TextLine

MAX_POINTS = 180  # ~3 min at one reading a second


def drain_text(figures: TrafficFigures | None, live: bool, peak: int) -> str:
    """ "draining: 3 of 12 open left · 1 websocket" on a colour traffic has left; "" otherwise."""
    if live or figures is None or not figures.open_connections:
        return ""
    of = f" of {peak}" if peak > figures.open_connections else ""
    ws = figures.websockets or 0
    sockets = f" · {ws} websocket{'s' if ws != 1 else ''}" if ws else ""
    return f"draining: {figures.open_connections}{of} open left{sockets}"


class TrafficSparkline(Vertical):
    DEFAULT_CSS = """
    TrafficSparkline { height: auto; }
    TrafficSparkline .traffic-spark-row { height: 1; }
    TrafficSparkline .traffic-spark-label { width: 6; color: $text-muted; }
    TrafficSparkline Sparkline { height: 1; width: 1fr; margin-right: 1; }
    TrafficSparkline .traffic-spark-errors > .sparkline--max-color { color: $error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rps: deque[float] = deque(maxlen=MAX_POINTS)
        self.errors: deque[float] = deque(maxlen=MAX_POINTS)
        self._last_at: float | None = None
        self._peak_open = 0

    def compose(self) -> ComposeResult:
        with Horizontal(classes="traffic-spark-row"):
            yield Static("req/s", classes="traffic-spark-label")
            yield Sparkline([], classes="traffic-spark-rps")
            yield Static("5xx/s", classes="traffic-spark-label")
            yield Sparkline([], classes="traffic-spark-errors")
        yield TextLine(classes="traffic-drain")

    def show(self, figures: TrafficFigures | None, live: bool, at: float) -> None:
        """`at`: when the agent composed these figures (the slot's updated_at)."""
        has_rates = figures is not None and figures.rps is not None
        if self.display != has_rates:
            self.display = has_rates
        if figures is None or figures.rps is None:
            return
        # One point per agent tick: a repeated poll of the same status adds nothing.
        if at != self._last_at:
            self._last_at = at
            self.rps.append(figures.rps)
            self.errors.append(figures.rps * (figures.error_rate or 0.0))
            # A new list each time: Sparkline redraws when `data` is replaced, not mutated.
            # One point alone is drawn as a full bar in the max colour — a red wall of 5xx/s
            # on a colour that has failed nothing — so a line starts at its second point.
            self.query_one(".traffic-spark-rps", Sparkline).data = _drawable(self.rps)
            self.query_one(".traffic-spark-errors", Sparkline).data = _drawable(self.errors)
        open_now = figures.open_connections or 0
        self._peak_open = 0 if live or not open_now else max(self._peak_open, open_now)
        drain = self.query_one(".traffic-drain", TextLine)
        text = drain_text(figures, live, self._peak_open)
        drain.display = bool(text)
        drain.show(text)


def _drawable(points: deque[float]) -> list[float]:
    return list(points) if len(points) > 1 else []
