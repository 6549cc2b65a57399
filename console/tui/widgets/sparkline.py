"""Speed and ETA over the last hour, drawn with plotext inside the panel."""

from __future__ import annotations

from collections import deque

from textual.color import Color as TextualColor
from textual_plotext import PlotextPlot

from console.core.model import SpeedPoint

WINDOW_SECONDS = 3_600.0
# One point a second for an hour is the most the agent publishes; older points fall off.
MAX_POINTS = 3_600
# An hour across ~60 columns of braille is ~30 s per dot: replotting every poll (1 s) moves
# nothing visible and costs a plotext build each time. Replot when the newest point or the time
# bucket changes, or when the plot gains or loses its data.
REPLOT_SECONDS = 10.0


class SpeedSparkline(PlotextPlot):
    """Indexing speed (left axis) and ETA in minutes (right axis) against minutes ago."""

    def __init__(self, *, line_variable: str, id: str | None = None) -> None:
        super().__init__(id=id, classes="sparkline")
        self._line_variable = line_variable  # a theme variable, e.g. "primary"
        self.history: deque[SpeedPoint] = deque(maxlen=MAX_POINTS)
        self._now = 0.0
        self._plotted: tuple[object, ...] | None = None

    def show(self, points: list[SpeedPoint], now: float) -> None:
        recent = [point for point in points if now - point.at <= WINDOW_SECONDS]
        newest = recent[-1] if recent else None
        bucket = now // REPLOT_SECONDS
        key = (bucket, len(recent) > 0, newest.at // REPLOT_SECONDS if newest else None)
        if key == self._plotted:
            return
        self._plotted = key
        self.history.clear()
        self.history.extend(recent)
        self._now = now
        self.replot()

    def _theme_rgb(self, variable: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(variable) or self.app.theme_variables["foreground"]
        return TextualColor.parse(value).rgb

    def replot(self) -> None:
        # Copy first: the deque may be refilled by the next poll while plotext iterates.
        points = list(self.history)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlim(-60, 0)
        plt.xticks([-60, -30, 0], ["-60m", "-30m", "now"])
        speeds = [(p.at, p.speed) for p in points if p.speed is not None]
        etas = [(p.at, p.eta_seconds) for p in points if p.eta_seconds is not None]
        if speeds:
            plt.plot(
                [(at - self._now) / 60 for at, _ in speeds],
                [speed for _, speed in speeds],
                marker="braille",
                color=self._theme_rgb(self._line_variable),
                label="b/s",
            )
        if etas:
            plt.plot(
                [(at - self._now) / 60 for at, _ in etas],
                [eta / 60 for _, eta in etas],
                marker="braille",
                color=self._theme_rgb("warning"),
                yside="right",
                label="ETA min",
            )
        if not speeds and not etas:
            plt.title("no speed samples in the last hour")
        self.refresh()
