"""Several FakeConsoles named as services, each in a different situation, for the overview's own
logic (the real fleet is tested in test_fleet_e2e.py on a fleet directory and the sandbox)."""

from __future__ import annotations

import threading
from dataclasses import replace

from console.core.config.schema import Config
from console.core.config.sources import SqlSource
from console.core.measures.traffic import TrafficFigures
from console.core.model import Canary, EventRecord, SlotState, Status
from tests.tui.fake_console import FIXED_NOW, FakeConsole

LIVE_TRAFFIC = TrafficFigures(rps=212.4, error_rate=0.002, p50_ms=12.0, p99_ms=85.0)


class FakeService(FakeConsole):
    """A FakeConsole that answers as service `name`; `shape` picks its situation."""

    def __init__(self, name: str, shape: str = "syncing", **options: bool) -> None:
        super().__init__(gate_met=shape == "ready", **options)
        self.name = name
        self.shape = shape
        self.config = Config(service=name, candidate=SqlSource())
        self.hang = threading.Event() if shape == "hung" else None
        self.live_version = "v1"  # a test changes it to see the row follow
        if shape == "locked":
            self.with_lock("carol", "deploy")
        if shape == "canary":
            self.running_canary = Canary("green", 10)
        if shape == "drift":
            drift = EventRecord(9, FIXED_NOW - 30, "drift", "warning", "proxy said green", "agent")
            self.extra_events.append(drift)

    def status(self) -> Status:
        if self.hang is not None and self.hang_now:
            self.hang.wait(60)  # a store that stopped answering (released when the test ends)
        status = super().status()
        slots = dict(status.slots)
        slots["blue"] = replace(slots["blue"], traffic=LIVE_TRAFFIC, version=self.live_version)
        if self.shape == "failed":
            slots["green"] = replace(
                slots["green"],
                state=SlotState.FAILED,
                reason="Stalled at height 3800016 for 600 s (lag 412330).",
            )
        if self.shape == "empty":
            slots["green"] = replace(slots["green"], state=SlotState.EMPTY, conditions=())
        return replace(status, service=self.name, slots=slots)

    @property
    def hang_now(self) -> bool:
        # The first read answers (the row has values), later ones hang.
        reads = sum(1 for name, _ in self.calls if name == "status")
        return reads > 1


SHAPES = ("syncing", "ready", "failed", "empty", "locked", "canary", "drift")


def fake_fleet(count: int = 4, read_only: bool = False) -> dict[str, FakeService]:
    names = ["api", "explorer", "indexer", "web", "evm", "frontend", "backend"]
    names += [f"svc{n:02d}" for n in range(len(names), count)]
    return {
        name: FakeService(name, SHAPES[i % len(SHAPES)], read_only=read_only)
        for i, name in enumerate(names[:count])
    }
