"""Parity checks: one class per `kind`, one table, and the sampler the agent and the switch use.

Adding a kind = one dataclass in console/core/config/parity.py, one module here with its class
(behind console.core.measures.parity.ParityProbe), and one entry in `KINDS`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from console.core.config.schema import Config
from console.core.contracts.progress import ProgressSource, SourceUnavailable
from console.core.measures.parity import ParityProbe, ParityReport, run_parity
from console.core.model import COLORS, Color
from console.core.redact import Redactor
from console.drivers.parity.http import HttpParityProbe
from console.drivers.parity.sql import SqlParityProbe
from console.drivers.progress import make_candidate_source

# (spec, index in [[parity]], config) → probe
KINDS: dict[str, Callable[[Any, int, Config], ParityProbe]] = {
    "sql": SqlParityProbe,
    "http": HttpParityProbe,
}


class ParityRunner:
    """Reads both colours' heights afresh, pins H, runs every check: nothing is kept between runs
    but the connections."""

    def __init__(self, config: Config, redactor: Redactor) -> None:
        self.margin = config.readiness.parity_margin
        self.redact = redactor.redact
        self.probes = [KINDS[spec.kind](spec, i, config) for i, spec in enumerate(config.parity)]
        # One run at a time: the agent's sampler and a switch share the probes, whose HTTP
        # fetchers are re-aimed at each run's height.
        self._running = threading.Lock()
        self.heights: dict[Color, ProgressSource] = {}
        for color in COLORS:
            source = make_candidate_source(config, color)
            assert source is not None  # config checks refuse [[parity]] without a candidate
            self.heights[color] = source

    def run(self, not_serving: Mapping[Color, str] | None = None) -> ParityReport:
        with self._running:
            return self._run(not_serving)

    def _run(self, not_serving: Mapping[Color, str] | None) -> ParityReport:
        heights: dict[Color, int | None] = {}
        errors: dict[Color, str] = {}
        for color, source in self.heights.items():
            try:
                heights[color] = source.read().height
            except SourceUnavailable as exc:
                heights[color] = None
                errors[color] = str(exc)
        return run_parity(self.probes, heights, self.margin, self.redact, not_serving, errors)

    def close(self) -> None:
        for probe in self.probes:
            probe.close()
        for source in self.heights.values():
            source.close()


def make_parity_sampler(config: Config, redactor: Redactor) -> ParityRunner | None:
    """None when the config has no [[parity]]."""
    return ParityRunner(config, redactor) if config.parity else None
