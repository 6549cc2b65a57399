"""The agent: one per state dir, it watches both colours and acts on policy.

Each tick it gathers the latest reading of every part (one sampler thread per part, see
samplers.py, so a part that hangs degrades only what needs it), checks the proxy's live colour
against the store (live_colour.py), publishes both colours' status to the store (which every
console reads), advances deployment phases, applies the switch policy, watches the post-switch
window and rolls back automatically, retires the previous colour, and notifies. It runs in its
own session, so it survives the operator's SSH connection dropping. A directory of services runs
one Agent per service, each on its own thread, in one process (fleet.py); a single file runs its
Agent alone in its process (single.py). Which agent acts — the lease, standing by — is standby.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from console.agent.analysis_base import AnalysisParts
from console.agent.analysis_watch import AnalysisWatch
from console.agent.canary_analysis import CanaryAnalysis
from console.agent.deployment_phases import DeploymentPhases
from console.agent.idle_pace import IdlePace, decisions
from console.agent.live_colour import LiveColourWatch
from console.agent.metrics import Published, ServiceMetrics
from console.agent.parity_watch import ParityWatch
from console.agent.post_switch import PostSwitchWatch
from console.agent.release_hooks import off_the_tick, post_ready_hooks
from console.agent.replica_watch import ReplicaWatch
from console.agent.resource_alerts import ResourceAlerts
from console.agent.retire import Retirement, SessionRetireParts
from console.agent.samplers import Sampler, sample_round
from console.agent.sessions_watch import SessionWatch
from console.agent.slot_compose import (
    Step,
    TickInputs,
    compose,
    with_head_error,
    with_head_reading,
    with_parity,
    with_traffic,
)
from console.agent.slot_watch import SlotWatch
from console.agent.standby import keep_leading, reconcile_logged
from console.agent.state_events import record_state_changes
from console.agent.traffic_watch import TrafficWatch
from console.core.actor import AGENT_ACTOR
from console.core.contracts.edges import edge_proxies
from console.core.contracts.runtime import Runtime
from console.core.contracts.sessions import keeps_sessions
from console.core.gate.readiness import STALE_AFTER_INTERVALS
from console.core.installation import Installation
from console.core.measures.parity import ParitySampler
from console.core.model import COLORS, Color, Sample, SlotStatus, other
from console.core.ops.canary import abort_locked
from console.core.ops.canary_reconcile import canary_in_step
from console.core.ops.edges import converge_edges
from console.core.ops.holds import lift_expired
from console.core.ops.reconcile import reconcile_live
from console.core.ops.sessions import retire_locked
from console.core.ops.switching import rollback_locked, switch
from console.drivers.progress import make_head_source

_PRUNE_EVERY_SECONDS = 600.0
_SAMPLE_RETENTION_SECONDS = 24 * 3600.0
# How long a tick waits for its readings: healthy parts answer in milliseconds; a hung one is left
# to its own thread and read as stale.
_ROUND_BUDGET_SECONDS = 0.5


class Agent:
    """Opens the installation's parts and hands each watcher the ones it uses.

    The store, the operator lock, the proxy and the notifier are opened here, when the agent is
    built. The container engine and the parity comparison are handed out as `self._runtime` and
    `self._parity`: asked for on the samplers' threads only, so one that is down when the agent
    starts is that part's reading's error ("Docker unavailable: …"), never the agent's.
    """

    def __init__(
        self,
        inst: Installation,
        log: Callable[[str], None] = print,
        stopping: threading.Event | None = None,
    ) -> None:
        self.inst = inst
        self.log = log
        # A fleet's runner hands its own: it stops each service's agent (console/agent/fleet.py).
        self.stopping = stopping if stopping is not None else threading.Event()
        config = inst.config
        stale_after = _stale_after(inst)
        # None: no catch-up, or each colour reports its own head (read in its SlotWatch).
        self.head_source = make_head_source(config)
        self.head: Sampler[int | None] | None = None
        if self.head_source is not None:
            source = self.head_source
            self.head = Sampler(
                "head", source.label, lambda: source.read().height, stale_after=stale_after
            )
        self.watches = {
            color: SlotWatch(config, color, self._runtime, inst.redactor) for color in COLORS
        }
        self.live_colour = live_colour_watch(inst, stale_after, log)
        self.replicas = ReplicaWatch(lambda: inst.proxy, inst.store, str(AGENT_ACTOR), log)
        self.traffic = TrafficWatch(inst.proxy.traffic, stale_after)
        self.resource_alerts = ResourceAlerts(
            config.resources,
            inst.store,
            inst.notifier,
            alarm_after=config.notify.alarm_after_seconds,
            service=config.service,
            actor=str(AGENT_ACTOR),
        )
        self.retirement = Retirement(  # after the keep, once drained
            config.switch,
            inst.store,
            inst.lock,
            self._runtime,
            {color: config.slot(color).container for color in COLORS},
            AGENT_ACTOR,
            SessionRetireParts(  # [sessions]: when the old colour's sessions have ended
                partial(retire_locked, inst, AGENT_ACTOR), inst.notifier, config.service
            )
            if config.sessions.enabled
            else None,
        )
        self.sessions = SessionWatch(
            config,
            inst.store,
            keeps_sessions(inst.proxy),
            inst.lock,
            AGENT_ACTOR,
            log,
            stale_after,
        )
        self.parity = ParityWatch(
            self._parity if config.parity else None, config.readiness.parity_interval_seconds
        )
        analysis = AnalysisParts(
            config.analysis,
            inst.store,
            inst.lock,
            inst.notifier,
            auto_rollback=config.switch.auto_rollback,
            service=config.service,
            actor=AGENT_ACTOR,
            log=log,
        )
        self.analysis = AnalysisWatch(
            analysis,
            self.traffic.sampler,
            rollback=partial(rollback_locked, inst, AGENT_ACTOR),
            canary=CanaryAnalysis(analysis, abort=partial(abort_locked, inst, AGENT_ACTOR)),
            tick_seconds=config.readiness.sample_interval_seconds,
        )
        # A colour's status after its SlotWatch, step by step (console/agent/slot_compose.py):
        # contention reads the traffic figures; the pre-switch gate judges the composed status.
        self.compose_steps: tuple[Step, ...] = (
            with_head_reading,
            with_head_error,
            with_traffic,
            self.resource_alerts.annotate,  # a contention warning on the live colour
            with_parity,
            self.analysis.gate,  # [analysis] pre_switch on the idle colour
        )
        self.phases = DeploymentPhases(
            config.notify,
            inst.store,
            inst.notifier,
            off_the_tick(partial(switch, inst, AGENT_ACTOR), config.hooks, log),
            service=config.service,
            actor=AGENT_ACTOR,
            log=log,
            post_ready=post_ready_hooks(inst, AGENT_ACTOR, log),
        )
        self.post_switch = PostSwitchWatch(
            inst.store,
            inst.lock,
            partial(rollback_locked, inst, AGENT_ACTOR),
            auto_rollback=config.switch.auto_rollback,
            actor=AGENT_ACTOR,
            log=log,
        )
        self.previous: dict[Color, SlotStatus] = {}
        self.last_prune = 0.0
        self.published = Published()  # what the exporter reads (console/agent/metrics.py)
        # An idle service's full tick every 3 intervals, the proxy's colour between them
        # (idle_pace.py).
        parts = self._own_parts()
        parts += [p for w in self.watches.values() for p in w.samplers() + w.resources.samplers()]
        self.pace = IdlePace(
            stale_after,
            config.readiness.sample_interval_seconds,
            parts,
            analysis=config.analysis.enabled,
            retires=config.switch.keep_previous_seconds > 0,
        )

    def _runtime(self) -> Runtime:
        return self.inst.runtime

    def _parity(self) -> ParitySampler | None:
        return self.inst.parity

    # ── lifecycle ──
    def watch(
        self,
        ready: Callable[[], object] = lambda: None,
        winding_down: Callable[[], object] = lambda: None,
    ) -> int:
        """Record the start, reconcile, tick until stopped; then close, record the stop and
        release the lease the caller took. `ready` runs once reconciled, `winding_down` first
        thing when stopping."""
        self.inst.store.record_event("agent", "Agent started.", "info", str(AGENT_ACTOR))
        reconcile_logged(self.inst, self.log)
        interval = self.inst.config.readiness.sample_interval_seconds
        ready()
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                # A full tick first after a takeover: the other agent may have changed things.
                if not keep_leading(self.inst, self.log, self.stopping, took_over=self.pace.busy):
                    break
                try:
                    full = self.paced_tick(time.time())
                except Exception as exc:  # a tick must never kill the watcher
                    self.pace.busy()
                    self.published.tick_failed(time.monotonic() - started)
                    self.log(f"tick failed: {self.inst.redactor.redact(repr(exc))}")
                else:  # between an idle service's full ticks, the last full one stands
                    if full:
                        took = time.monotonic() - started
                        self.published.tick_done(self.previous, self.inst.store.live(), took)
                self.stopping.wait(max(0.0, interval - (time.monotonic() - started)))
        finally:
            winding_down()
            self.close()
            self.inst.store.record_event("agent", "Agent stopped.", "info", str(AGENT_ACTOR))
            self.inst.agent_lease.release()
        return 0

    def metrics_source(self) -> ServiceMetrics:
        """What the exporter reads of this service."""
        return ServiceMetrics(
            self.inst.config.service, self.published, self.inst.store, self.inst.redactor.redact
        )

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def close(self) -> None:
        """Stop every sampler thread and write the resource peaks not written yet."""
        for watch in self.watches.values():
            watch.close()
        self.live_colour.close()
        self.traffic.close()
        self.resource_alerts.close()
        self.parity.close()
        self.sessions.close()
        if self.head is not None:
            self.head.close()
        if self.head_source is not None:
            self.head_source.close()

    # ── one tick ──
    def sample(self) -> None:
        """Ask every part for a fresh reading and wait a short budget: a part that hangs keeps
        its previous reading (with its age) and costs the tick nothing more."""
        parts = self._own_parts()
        for watch in self.watches.values():
            parts += watch.wanted()
        parts += self.parity.wanted(self.inst.store.live, self.previous)
        parts += self.sessions.wanted()
        interval = self.inst.config.readiness.sample_interval_seconds
        sample_round(parts, min(_ROUND_BUDGET_SECONDS, 0.5 * interval))

    def _own_parts(self) -> list[Sampler[Any]]:
        """The service's parts besides each colour's: the proxy's colour and counters, a head."""
        head = [self.head] if self.head is not None else []
        return [self.live_colour.sampler, self.traffic.sampler, *head]

    def paced_tick(self, now: float) -> bool:
        """A full tick, or for an idle service between its full ones only what was decided and
        the proxy's colour (console/agent/idle_pace.py). True when it was a full one."""
        decided = decisions(self.inst.store)
        self.live_colour.steered((decided.live, decided.canary))  # for the proxy's quick read
        try:
            if not self.pace.full_due(decided):
                # What users get is checked every tick all the same: a drift is fixed within one.
                self.live_colour.sampler.request()
                return False  # the heartbeat waits for the next full tick, as the statuses do
            self.tick(now)
        finally:
            self.live_colour.steered(None)
        changed = self.pace.after_full(decided, self.previous)
        if changed:
            self.log(changed)
        return True

    def tick(self, now: float) -> None:
        store = self.inst.store
        self.sample()
        self.traffic.update()
        self.published.traffic_read(self.traffic.newest)
        now = max(now, time.time())  # compose at the time the readings were gathered
        head = self.head.latest() if self.head is not None else None
        head_error = head.error if head is not None else None
        # Read after the round: a drift the proxy sampler just fixed counts in this tick.
        live = store.live()
        self.analysis.observe(now, live)
        live_sample = None
        statuses: dict[Color, SlotStatus] = {}
        deployments = store.active_deployments()  # both colours' in one statement
        # The live colour first, so the candidate is compared with its height from this tick.
        for color in (live, other(live)) if live else COLORS:
            watch = self.watches[color]
            watch.parity = self.parity.report()
            status = watch.observe(now, head, live, live_sample, deployments.get(color))
            if color == live and status.height is not None and watch.last_sample is not None:
                live_sample = Sample(watch.last_sample.at, status.head, status.height)
            tick = TickInputs(
                live,
                self.previous,
                self.head.published() if self.head is not None else None,
                head_error,
                self.traffic.figures(color),
                watch.parity,
            )
            statuses[color] = status = compose(status, tick, self.compose_steps)
            self.replicas.tick(status, now)  # a Swarm colour: the proxy's list, lost replicas
        # One transaction for both colours and their state changes' events: readers see them
        # together, and each transaction costs the agent's thread as much again (issue 23).
        with store.together():
            for color, status in statuses.items():
                self._publish(status, self.watches[color], now)
            record_state_changes(store, str(AGENT_ACTOR), self.previous, statuses)
        for color, status in statuses.items():
            before = self.previous.get(color)
            self.phases.advance(color, status, live, before, self.watches[color].tracker)
        self.resource_alerts.after_tick(statuses, now)
        self.post_switch.tick(now, statuses, self.previous)
        self.analysis.post_switch(now)  # traffic analysis: console/agent/analysis_watch.py
        self.sessions.tick(now, {c: s.container_state == "running" for c, s in statuses.items()})
        self.retirement.tick(now, statuses)
        self.previous = statuses
        with store.together():  # one transaction: each costs the agent's thread as much again
            store.put_proxy_reading(self.live_colour.sampler.published())
            store.heartbeat("agent")
        if now - self.last_prune > _PRUNE_EVERY_SECONDS:
            store.prune_samples(now - _SAMPLE_RETENTION_SECONDS)
            store.prune_metrics(now - _SAMPLE_RETENTION_SECONDS)
            lift_expired(self.inst, AGENT_ACTOR)  # readers already ignore it; history says so
            self.last_prune = now

    def _publish(self, status: SlotStatus, watch: SlotWatch, now: float) -> None:
        """The colour's status, its new height sample and its speed and ETA, to the store (in
        the caller's transaction: readers see the status with its series)."""
        store, color = self.inst.store, status.color
        store.put_slot_status(status)
        if watch.new_sample and watch.last_sample is not None:
            store.add_samples(color, [watch.last_sample])
        if status.speed is not None or status.eta_seconds is not None:
            store.add_metric(f"speed:{color}", status.speed or 0.0, now)
            store.add_metric(
                f"eta:{color}",
                status.eta_seconds if status.eta_seconds is not None else -1.0,
                now,
            )


def _stale_after(inst: Installation) -> float:
    return STALE_AFTER_INTERVALS * inst.config.readiness.sample_interval_seconds


def live_colour_watch(
    inst: Installation, stale_after: float, log: Callable[[str], None]
) -> LiveColourWatch:
    """The per-tick check of the proxy's live colour and canary against the store, built once."""
    return LiveColourWatch(
        inst.proxy,
        inst.store,
        inst.lock,
        inst.notifier,
        canary_in_step=partial(canary_in_step, inst),
        reconcile=partial(reconcile_live, inst, AGENT_ACTOR, changed_outside=True),
        service=inst.config.service,
        stale_after=stale_after,
        actor=AGENT_ACTOR,
        log=log,
        converge=partial(converge_edges, inst, AGENT_ACTOR) if edge_proxies(inst.proxy) else None,
    )
