"""The proxy's per-colour traffic counters, read on their own sampler thread each tick.

One per installation, like the live-colour watch: a proxy that hangs leaves the figures stale
(their reading's age says so) and costs the tick nothing. The readings feed a `TrafficWindow`
(console/core/measures/traffic.py), which turns counter differences into rates and percentiles.
"""

from __future__ import annotations

from collections.abc import Callable

from console.agent.samplers import Sampler
from console.core.measures.traffic import TrafficFigures, TrafficSnapshot, TrafficWindow
from console.core.model import Color


class TrafficWatch:
    def __init__(self, read: Callable[[], TrafficSnapshot | None], stale_after: float) -> None:
        """`read`: the proxy driver's `traffic()`, its counters now (None: it keeps none)."""
        self.window = TrafficWindow()
        self.newest: TrafficSnapshot | None = None  # the raw counters, for the exporter
        self.sampler: Sampler[TrafficSnapshot | None] = Sampler(
            "traffic", "the proxy's traffic counters", read, stale_after=stale_after
        )

    def update(self) -> None:
        """Take the sampler's latest reading into the window (a repeated one is ignored)."""
        value = self.sampler.latest().value
        if value is not None:
            self.window.add(value)
            self.newest = value

    def figures(self, color: Color) -> TrafficFigures | None:
        return self.window.figures(color)

    def close(self) -> None:
        self.sampler.close()
