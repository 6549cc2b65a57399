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

from collections.abc import Callable
from dataclasses import dataclass

from console.core.gate.analysis import Tally, Verdict, evaluate
from console.core.installation import Installation
from console.core.lock import LockHeld
from console.core.measures.traffic import TrafficFigures, TrafficSnapshot, TrafficWindow
from console.core.model import Actor, Canary, other
from console.core.ops.canary import abort_locked


@dataclass
class _Judged:
    canary: Canary
    window: TrafficWindow
    next_poll: float
    tally: Tally
    last: Verdict | None = None
    aborted: bool = False


class CanaryAnalysis:
    def __init__(self, inst: Installation, actor: Actor, log: Callable[[str], None]) -> None:
        self.inst = inst
        self.config = inst.config.analysis
        self.actor = actor
        self.log = log
        self.judged: _Judged | None = None

    def tick(self, now: float, snapshot: TrafficSnapshot | None, read_error: str | None) -> None:
        """Each agent tick, with the traffic sampler's newest reading (None: none yet)."""
        canary = self.inst.store.canary()
        if canary is None:
            self.judged = None
            return
        judged = self.judged
        if judged is None or judged.canary != canary:
            judged = self.judged = self._start(now, canary, snapshot)
        elif snapshot is not None:
            judged.window.add(snapshot)
        if judged.aborted or now < judged.next_poll:
            return
        if judged.tally.exhausted:
            self._abort(judged)  # postponed by a held lock last time: try again
            return
        judged.next_poll = max(judged.next_poll + self.config.interval_seconds, now)
        verdict = evaluate(
            self.config,
            self._figures(judged.window, canary),
            judged.window.figures(other(canary.color)),
            read_error,
        )
        judged.tally = judged.tally.after(verdict)
        judged.last = verdict
        self.inst.store.record_event(
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
        self.inst.store.record_event(
            "analysis",
            f"Analysing the canary ({canary.describe()}) every "
            f"{self.config.interval_seconds:g} s; abort at "
            f"{self.config.failure_limit} failed polls.",
            "info",
            str(self.actor),
            canary.color,
        )
        return _Judged(
            canary, window, now + self.config.interval_seconds, Tally(self.config.failure_limit)
        )

    def _figures(self, window: TrafficWindow, canary: Canary) -> TrafficFigures | None:
        figures = window.figures(canary.color)
        if figures is None and window.figures(other(canary.color)) is not None:
            # Counted nothing while the live colour did: it served no request (0, not unknown).
            return TrafficFigures(rps=0.0, window_seconds=self.config.window_seconds)
        return figures

    def _abort(self, judged: _Judged) -> None:
        figures = judged.last.text if judged.last else ""
        reason = f"its traffic analysis failed ({judged.tally.text}; last {figures})"
        if not self.inst.config.switch.auto_rollback:
            judged.aborted = True  # said once: the operator decides
            text = f"The canary's {reason} — switch.auto_rollback is off, so it keeps running."
            self.inst.store.record_event(
                "analysis", text, "error", str(self.actor), judged.canary.color
            )
            self.inst.notifier.send("failure", f"{self.inst.config.service}: {text}", "error")
            return
        try:
            with self.inst.lock.acquire("canary abort (traffic analysis)", self.actor):
                for event in abort_locked(self.inst, self.actor, reason):
                    self.log(f"canary analysis: {event.text}")
        except LockHeld as exc:
            self.log(f"canary abort postponed: {exc}")
            return
        judged.aborted = True
