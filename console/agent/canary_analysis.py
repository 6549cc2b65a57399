"""`[analysis]` on a running canary: judge the canary colour by its own traffic, abort on a breach.

While `bluegreen canary N` sends a share of clients to the idle colour, the agent polls that
colour's figures every `interval_seconds`, from a window opened when the canary started (so
preview traffic before it never counts), against the live colour's figures of the same window as
the `max_p99_ratio` baseline. Each poll is an `analysis` event; at `failure_limit` failed polls it
aborts the canary through the core (`canary.abort_locked`, under the operator lock), which
records and notifies the abort with the figures as its reason. A quiet canary is inconclusive,
never a failure, as after a switch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from console.agent.analysis_base import AnalysisParts, Polls, TrafficAnalysis
from console.core.gate.analysis import Tally, evaluate
from console.core.lock import LockHeld
from console.core.measures.traffic import TrafficSnapshot, TrafficWindow
from console.core.model import Canary, OperationEvent, other

# Aborts the running canary for the reason given; the caller already holds the operator lock
# (`canary.abort_locked`, bound to the installation and the agent by the agent loop).
AbortCanary = Callable[[str], Iterable[OperationEvent]]


@dataclass(kw_only=True)
class _Judged(Polls):
    canary: Canary


class CanaryAnalysis(TrafficAnalysis):
    def __init__(self, parts: AnalysisParts, abort: AbortCanary) -> None:
        super().__init__(parts)
        self.abort = abort
        self.judged: _Judged | None = None

    def tick(self, now: float, snapshot: TrafficSnapshot | None, read_error: str | None) -> None:
        """Each agent tick, with the traffic sampler's newest reading (None: none yet)."""
        canary = self.store.canary()
        if canary is None:
            self.judged = None
            return
        judged = self.judged
        if judged is None or judged.canary != canary:
            judged = self.judged = self._start(now, canary, snapshot)
        elif snapshot is not None:
            judged.window.add(snapshot)
        if judged.acted or now < judged.next_poll:
            return
        if judged.tally.exhausted:
            self._abort(judged)  # postponed by a held lock last time: try again
            return
        judged.next_poll = max(judged.next_poll + self.config.interval_seconds, now)
        verdict = evaluate(
            self.config,
            self._figures(judged.window, canary.color),
            judged.window.figures(other(canary.color)),
            read_error,
        )
        judged.tally = judged.tally.after(verdict)
        judged.last = verdict
        self.store.record_event(
            "analysis",
            f"Analysis of the canary ({canary.describe()}), poll {judged.tally.polls}: "
            f"{verdict.text} {judged.tally.text}.",
            "warning" if verdict.failed else "info",
            str(self.actor),
            canary.color,
        )
        if judged.tally.exhausted:
            self._abort(judged)

    def _start(self, now: float, canary: Canary, snapshot: TrafficSnapshot | None) -> _Judged:
        window = TrafficWindow(seconds=self.config.window_seconds)
        if snapshot is not None:
            window.add(snapshot)  # the starting point: figures are deltas from here
        self.store.record_event(
            "analysis",
            f"Analysing the canary ({canary.describe()}) every "
            f"{self.config.interval_seconds:g} s; abort at "
            f"{self.config.failure_limit} failed polls.",
            "info",
            str(self.actor),
            canary.color,
        )
        return _Judged(
            canary=canary,
            window=window,
            next_poll=now + self.config.interval_seconds,
            tally=Tally(self.config.failure_limit),
        )

    def _abort(self, judged: _Judged) -> None:
        figures = judged.last.text if judged.last else ""
        reason = f"its traffic analysis failed ({judged.tally.text}; last {figures})"
        if not self.auto_rollback:
            judged.acted = True  # said once: the operator decides
            text = f"The canary's {reason} — switch.auto_rollback is off, so it keeps running."
            self.store.record_event("analysis", text, "error", str(self.actor), judged.canary.color)
            self.notifier.send("failure", f"{self.service}: {text}", "error")
            return
        try:
            with self.lock.acquire("canary abort (traffic analysis)", self.actor):
                for event in self.abort(reason):
                    self.log(f"canary analysis: {event.text}")
        except LockHeld as exc:
            self.log(f"canary abort postponed: {exc}")
            return
        judged.acted = True
