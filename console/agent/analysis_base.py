"""What the agent's two traffic analyses share: after a switch (analysis_watch.py) and on a running
canary (canary_analysis.py), each records its polls, notifies and acts with the same parts, keeps
its own polls in progress and reads a colour's figures the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from console.core.config.analysis import AnalysisConfig
from console.core.contracts.notifier import Notifier
from console.core.contracts.store import OperationLock
from console.core.gate.analysis import Tally, Verdict
from console.core.measures.traffic import TrafficFigures, TrafficWindow
from console.core.model import Actor, Color, other
from console.core.store.store import Store


@dataclass(frozen=True, slots=True)
class AnalysisParts:
    """What an analysis reads, records and acts with (the agent loop hands out one set)."""

    config: AnalysisConfig
    store: Store
    lock: OperationLock  # taken without waiting before a rollback or an abort
    notifier: Notifier
    auto_rollback: bool  # switch.auto_rollback; off, a breach is said once and nothing is done
    service: str  # names the service in notifications
    actor: Actor
    log: Callable[[str], None]


class TrafficAnalysis:
    def __init__(self, parts: AnalysisParts) -> None:
        self.config = parts.config
        self.store = parts.store
        self.lock = parts.lock
        self.notifier = parts.notifier
        self.auto_rollback = parts.auto_rollback
        self.service = parts.service
        self.actor = parts.actor
        self.log = parts.log

    def _figures(self, window: TrafficWindow, color: Color) -> TrafficFigures | None:
        """The colour's figures; a colour the proxy has never counted, in a window where the
        other colour has readings, served nothing (said as "0 requests", not as missing)."""
        figures = window.figures(color)
        if figures is None and window.figures(other(color)) is not None:
            return TrafficFigures(rps=0.0, window_seconds=self.config.window_seconds)
        return figures


@dataclass(kw_only=True)
class Polls:
    """One analysis in progress: its own window of readings, when it polls next, its tally."""

    window: TrafficWindow
    next_poll: float
    tally: Tally
    last: Verdict | None = None
    acted: bool = False  # rolled back or aborted, or said once that switch.auto_rollback is off
