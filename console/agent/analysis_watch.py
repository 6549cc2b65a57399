"""`[analysis]` in the agent: judge the new live colour by its traffic, roll back on a breach.

Each tick the agent hands it the proxy's latest counter reading (the traffic sampler's, read once
for the status figures too). It keeps its own window of `analysis.window_seconds`, so that the
live colour's figures just before a switch are the baseline of `max_p99_ratio`, and the idle
colour's own traffic (preview or canary requests) can gate the switch (`pre_switch`).

During the post-switch watch (`switch.watch_seconds`, opened by the switch) it polls every
`interval_seconds` on the figures since the switch only, records each verdict as an event, and at
`failure_limit` failed polls rolls back through the normal rollback path as the agent, with the
figures that triggered it in the event, the deployment's outcome and a notification. A running
canary is judged the same way on its own traffic and aborted on a breach (canary_analysis.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from console.agent.analysis_base import AnalysisParts, Polls, TrafficAnalysis
from console.agent.canary_analysis import CanaryAnalysis
from console.agent.samplers import Sampler
from console.agent.slot_compose import TickInputs
from console.core.gate.analysis import Tally, evaluate, figures_text, pre_switch_condition
from console.core.lock import LockHeld
from console.core.measures.traffic import TrafficFigures, TrafficSnapshot, TrafficWindow
from console.core.model import (
    Color,
    Condition,
    EventLevel,
    OperationEvent,
    Outcome,
    Phase,
    SlotState,
    SlotStatus,
    other,
)

# Rolls back for the reason given; the caller already holds the operator lock
# (`switching.rollback_locked`, bound to the installation and the agent by the agent loop).
RollBack = Callable[[str], Iterable[OperationEvent]]


@dataclass(kw_only=True)
class _Watched(Polls):
    """One post-switch watch being analysed."""

    color: Color
    until: float
    deployment_id: int | None
    version: str
    baseline: TrafficFigures | None


class AnalysisWatch(TrafficAnalysis):
    def __init__(
        self,
        parts: AnalysisParts,
        traffic: Sampler[TrafficSnapshot | None],
        rollback: RollBack,
        canary: CanaryAnalysis,
        tick_seconds: float,
    ) -> None:
        super().__init__(parts)
        self.traffic = traffic
        self.rollback = rollback
        self.canary = canary  # a running canary is judged too
        self.tick_seconds = tick_seconds  # readiness.sample_interval_seconds
        self.window = TrafficWindow(seconds=self.config.window_seconds)
        self.last_snapshot: TrafficSnapshot | None = None
        # The live colour's figures at the last tick no switch was being watched: the baseline a
        # new watch compares with (captured before the switch, from the traffic it served).
        self.live_figures: tuple[Color, TrafficFigures | None] | None = None
        self.pre: dict[Color, Condition] = {}
        self.watched: _Watched | None = None

    # ── each tick, before the colours are composed ──
    def observe(self, now: float, live: Color | None) -> None:
        if not self.config.enabled:
            return
        snapshot = self.traffic.latest().value
        if snapshot is not None and (
            self.last_snapshot is None or snapshot.at > self.last_snapshot.at
        ):
            self.window.add(snapshot)
            if self.watched is not None:
                self.watched.window.add(snapshot)
            self.last_snapshot = snapshot
        watch = self.store.watch()
        if live is not None and (watch is None or watch[0] != live):
            self.live_figures = (live, self.window.figures(live))
        self.pre.clear()
        if self.config.pre_switch and live is not None:
            idle = other(live)
            verdict = evaluate(
                self.config,
                self._figures(self.window, idle),
                self.window.figures(live),
                self._error(now),
            )
            self.pre[idle] = pre_switch_condition(verdict)

    def gate(self, status: SlotStatus, tick: TickInputs) -> SlotStatus:
        """With `pre_switch`, the idle colour is ready only once its own traffic passes (the last
        step of a colour's composition: it judges the status the other steps made)."""
        live = tick.live
        condition = self.pre.get(status.color)
        if condition is None or status.color == live or status.container_state != "running":
            return status
        deployment = self.store.active_deployment(status.color)
        if deployment is None or deployment.id != status.deployment_id:
            return status  # no deployment of ours, or an older container still answers
        if Phase.LIVE in deployment.phases:
            return status  # kept for rollback: it has served already, there is nothing to gate
        status = replace(status, conditions=(*status.conditions, condition))
        if condition.met or not status.ready:
            return status
        state = status.state
        if state == SlotState.READY:
            state = SlotState.SYNCING if status.height is not None else SlotState.STARTING
        reason = status.reason or f"Waiting for the {condition.name}: {condition.detail}"
        return replace(status, state=state, ready=False, reason=reason)

    def _error(self, now: float) -> str | None:
        sampled = self.traffic.latest()
        if sampled.error is not None:
            return sampled.error
        if self.traffic.stale(now):
            return self.traffic.published().describe(now)
        return None

    # ── each tick, after the post-switch health watch ──
    def post_switch(self, now: float) -> None:
        if not self.config.enabled:
            return
        self.canary.tick(now, self.last_snapshot, self._error(now))
        store = self.store
        watch = store.watch()
        live = store.live()
        if watch is None or watch[0] != live:
            self._finish()
            return
        if self.watched is None or (self.watched.color, self.watched.until) != watch:
            self._start(now, watch[0], watch[1])
        watched = self.watched
        assert watched is not None
        # A poll due before the next tick runs on this one: polls keep their interval on average
        # instead of slipping a whole tick whenever a tick lands just before one is due.
        slack = 0.5 * self.tick_seconds
        if watched.acted or now < watched.next_poll - slack:
            return
        if watched.tally.exhausted:
            self._roll_back(watched)  # postponed by a held lock last time: try again
            return
        watched.next_poll += self.config.interval_seconds
        if watched.next_poll < now:  # the agent was held up: start the schedule again from now
            watched.next_poll = now + self.config.interval_seconds
        figures = self._figures(watched.window, watched.color)
        verdict = evaluate(self.config, figures, watched.baseline, self._error(now))
        watched.tally = watched.tally.after(verdict)
        watched.last = verdict
        level: EventLevel = "warning" if verdict.failed else "info"
        store.record_event(
            "analysis",
            f"Analysis of {watched.color} ({watched.version}), poll {watched.tally.polls}: "
            f"{verdict.text} {watched.tally.text}.",
            level,
            str(self.actor),
            watched.color,
            watched.deployment_id,
        )
        if watched.tally.exhausted:
            self._roll_back(watched)

    def _start(self, now: float, color: Color, until: float) -> None:
        store = self.store
        deployment = store.active_deployment(color) or store.latest_deployment(color)
        baseline = None
        if self.live_figures is not None and self.live_figures[0] != color:
            baseline = self.live_figures[1]
        window = TrafficWindow(seconds=self.config.window_seconds)
        switched_at = store.switched_at() or now
        # The figures start from the last reading before the switch (or, for an agent started
        # mid-watch, its first): never from pre-switch traffic beyond that one reading.
        started = switched_at
        if self.last_snapshot is not None:
            window.add(self.last_snapshot)
            started = max(switched_at, self.last_snapshot.at)
        self.watched = _Watched(
            color=color,
            until=until,
            deployment_id=deployment.id if deployment else None,
            version=deployment.version if deployment else "unknown version",
            baseline=baseline,
            window=window,
            next_poll=started + self.config.interval_seconds,
            tally=Tally(self.config.failure_limit),
        )
        said = "no baseline" if baseline is None else f"baseline {figures_text(baseline)}"
        store.record_event(
            "analysis",
            f"Analysing {color}'s traffic every {self.config.interval_seconds:g} s until its "
            f"watch ends; rollback at {self.config.failure_limit} failed polls ({said}).",
            "info",
            str(self.actor),
            color,
            deployment.id if deployment else None,
        )

    def _finish(self) -> None:
        watched, self.watched = self.watched, None
        if watched is None or watched.acted:
            return
        tally = watched.tally
        self.store.record_event(
            "analysis",
            f"Analysis of {watched.color} ended: {tally.polls} polls, {tally.failures} failed, "
            f"{tally.inconclusive} inconclusive.",
            "info",
            str(self.actor),
            watched.color,
            watched.deployment_id,
        )

    def _roll_back(self, watched: _Watched) -> None:
        store, service = self.store, self.service
        figures = watched.last.text if watched.last else ""
        what = f"{watched.color} ({watched.version}) failed its traffic analysis"
        if not self.auto_rollback:
            watched.acted = True  # said once; nothing more to do in this watch
            text = f"{what} ({watched.tally.text}: {figures}) — switch.auto_rollback is off."
            store.record_event("analysis", text, "error", str(self.actor), watched.color)
            self.notifier.send("failure", f"{service}: {text}", "error")
            return
        reason = f"{what}: {watched.tally.text}; last {figures}"
        try:
            with self.lock.acquire("automatic rollback (traffic analysis)", self.actor):
                store.record_event(
                    "analysis",
                    f"Rolling back: {reason}",
                    "error",
                    str(self.actor),
                    watched.color,
                    watched.deployment_id,
                )
                self.notifier.send("failure", f"{service}: rolling back: {reason}", "error")
                outcome: Outcome | None = None
                for event in self.rollback(reason):
                    self.log(f"analysis rollback: {event.text}")
                    outcome = event if isinstance(event, Outcome) else outcome
        except LockHeld as exc:
            self.log(f"analysis rollback postponed: {exc}")
            return
        watched.acted = True
        if outcome is not None and not outcome.ok:
            store.record_event("analysis", outcome.text, "error", str(self.actor), watched.color)
        elif watched.deployment_id is not None:
            store.set_phase(
                watched.deployment_id,
                Phase.ROLLED_BACK,
                f"rolled back by {self.actor}: {watched.tally.text}; {figures}",
            )
