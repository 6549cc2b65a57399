"""The agent's parity sampling: both colours compared at a pinned height, on its own thread.

Every `readiness.parity_interval_seconds` (not every tick: a parity check costs two queries or
requests per colour), while a colour is live and the other has a container. A colour whose
container is not running is an error in the report, never a match. The latest report travels
with both colours' status and feeds the candidate's gate when `readiness.parity_required`; the
gate marks it stale when it gets old, and a switch never uses it: it samples again
(console/core/ops/switch_parity.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from console.agent.samplers import Sampler
from console.core.gate.readiness import STALE_AFTER_INTERVALS
from console.core.measures.parity import ParityReport, ParitySampler
from console.core.model import COLORS, Color, SlotStatus


class ParityWatch:
    def __init__(self, parity: Callable[[], ParitySampler | None] | None, interval: float) -> None:
        """`parity` None: no [[parity]] configured. Else it gives the comparison (Installation's
        cached `parity`), asked on the sampler's thread at its first run: one that cannot be
        built is that sampler's error, never the agent's. `interval`:
        readiness.parity_interval_seconds."""
        self.parity = parity
        self.interval = interval
        self.last_request = 0.0
        self.not_serving: dict[Color, str] = {}
        self.sampler: Sampler[ParityReport] | None = None
        if parity is not None:
            self.sampler = Sampler(
                "parity",
                "the parity checks",
                self._run,
                stale_after=STALE_AFTER_INTERVALS * self.interval,
            )

    def _run(self) -> ParityReport:
        assert self.parity is not None
        sampler = self.parity()
        assert sampler is not None
        return sampler.run(self.not_serving)

    def wanted(
        self, live: Callable[[], object], statuses: Mapping[Color, SlotStatus]
    ) -> list[Sampler[ParityReport]]:
        """The sampler when a comparison is due and meaningful this tick, else nothing. `live`
        reads the live colour: only asked when parity is configured (a store read per tick)."""
        if self.sampler is None or live() is None:
            return []
        if any(color not in statuses or statuses[color].state == "empty" for color in COLORS):
            return []  # one colour has nothing deployed: nothing to compare
        now = time.monotonic()
        if now - self.last_request < self.interval:
            return []
        self.last_request = now
        self.not_serving = {
            color: f"its container is {statuses[color].container_state or 'not there'}"
            for color in COLORS
            if statuses[color].container_state != "running"
        }
        return [self.sampler]

    def report(self) -> ParityReport | None:
        return self.sampler.latest().value if self.sampler is not None else None

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.close()
