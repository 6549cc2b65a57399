"""The agent: one per state dir, it watches both colours and acts on policy.

Each tick it gathers the latest reading of every part (one sampler thread per part, see
samplers.py, so a part that hangs degrades only what needs it), checks the proxy's live colour
against the store (live_colour.py), publishes both colours' status to the store (which every
console reads), advances deployment phases, applies the switch policy, watches the post-switch
window and rolls back automatically, retires the previous colour, and notifies. It runs in its
own session, so it survives the operator's SSH connection dropping.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import FrameType
from typing import Any

from console.agent.analysis_watch import AnalysisWatch
from console.agent.live_colour import LiveColourWatch
from console.agent.metrics import Published
from console.agent.parity_watch import ParityWatch
from console.agent.resource_alerts import ResourceAlerts
from console.agent.retire import Retirement
from console.agent.samplers import Sampler, sample_round
from console.agent.slot_watch import SlotWatch
from console.agent.state_events import record_state_changes
from console.agent.systemd import notify
from console.agent.traffic_watch import TrafficWatch
from console.core.gate.readiness import STALE_AFTER_INTERVALS
from console.core.installation import Installation
from console.core.lock import LockHeld
from console.core.model import (
    COLORS,
    Actor,
    Color,
    Outcome,
    Phase,
    Sample,
    SlotState,
    SlotStatus,
    SwitchPolicy,
    other,
)
from console.core.ops.reconcile import reconcile
from console.core.ops.switching import rollback_locked, switch
from console.drivers.progress import make_head_source

AGENT_ACTOR = Actor("agent")
_FAILED_TICKS_BEFORE_ROLLBACK = 3  # one bad health probe is noise; three in a row is a failure
_PRUNE_EVERY_SECONDS = 600.0
_SAMPLE_RETENTION_SECONDS = 24 * 3600.0
# How long a tick waits for its readings: healthy parts answer in milliseconds; a hung one is left
# to its own thread and read as stale.
_ROUND_BUDGET_SECONDS = 0.5


class Agent:
    def __init__(self, inst: Installation, log: Callable[[str], None] = print) -> None:
        self.inst = inst
        self.log = log
        self.stopping = threading.Event()
        # None: no catch-up, or each colour reports its own head (read in its SlotWatch).
        self.head_source = make_head_source(inst.config)
        self.head: Sampler[int | None] | None = None
        if self.head_source is not None:
            source = self.head_source
            self.head = Sampler(
                "head", source.label, lambda: source.read().height, stale_after=_stale_after(inst)
            )
        self.watches = {color: SlotWatch(inst, color) for color in COLORS}
        self.live_colour = LiveColourWatch(inst, AGENT_ACTOR, log)
        self.traffic = TrafficWatch(inst, _stale_after(inst))
        self.resource_alerts = ResourceAlerts(inst, str(AGENT_ACTOR))
        self.retirement = Retirement(inst, AGENT_ACTOR, log)  # after the keep, once drained
        self.parity = ParityWatch(inst)
        self.analysis = AnalysisWatch(inst, self.traffic.sampler, AGENT_ACTOR, log)
        self.previous: dict[Color, SlotStatus] = {}
        self.eta_warned: set[int] = set()
        self.live_bad_ticks = 0
        self.last_prune = 0.0
        self.published = Published()  # what the exporter reads (console/agent/metrics.py)
        self.metrics_listen = ""  # "HOST:PORT" serves Prometheus metrics while this agent runs

    # ── lifecycle ──
    def run(self) -> int:
        if not self.inst.agent_lease.try_acquire():
            info = self.inst.agent_lease.info()
            self.log(
                f"Another agent already watches {self.inst.state_dir} (pid {info.pid}); exiting."
            )
            return 1
        try:
            exporter = self._start_exporter()
        except OSError as exc:
            self.log(
                f"Cannot serve metrics on {self.metrics_listen}: {exc.strerror or exc}. Choose a "
                "free port ([metrics] listen or --metrics)."
            )
            self.inst.agent_lease.release()
            return 1
        self.inst.store.record_event("agent", "Agent started.", "info", str(AGENT_ACTOR))
        for drift in reconcile(self.inst, AGENT_ACTOR):
            self.log(f"drift: {drift.what} — {drift.fixed}")
        interval = self.inst.config.readiness.sample_interval_seconds
        notify("READY=1")  # Type=notify: the lease is held and the store reconciled
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    self.tick(time.time())
                except Exception as exc:  # a tick must never kill the watcher
                    self.published.tick_failed(time.monotonic() - started)
                    self.log(f"tick failed: {self.inst.redactor.redact(repr(exc))}")
                else:
                    self.published.tick_done(
                        self.previous, self.inst.store.live(), time.monotonic() - started
                    )
                self.stopping.wait(max(0.0, interval - (time.monotonic() - started)))
        finally:
            notify("STOPPING=1")
            if exporter is not None:
                exporter.shutdown()
                exporter.server_close()
            for watch in self.watches.values():
                watch.close()
            self.live_colour.close()
            self.traffic.close()
            self.resource_alerts.close()
            self.parity.close()
            if self.head is not None:
                self.head.close()
            if self.head_source is not None:
                self.head_source.close()
            self.inst.store.record_event("agent", "Agent stopped.", "info", str(AGENT_ACTOR))
            self.inst.agent_lease.release()
        return 0

    def _start_exporter(self) -> Any:
        if not self.metrics_listen:
            return None
        from console.agent.metrics import serve
        from console.core.config.checks import parse_listen

        server = serve(
            parse_listen(self.metrics_listen),
            self.published,
            self.inst.store,
            self.inst.redactor.redact,
        )
        self.log(f"Prometheus metrics on http://{self.metrics_listen}/metrics")
        return server

    def stop(self, *_: object) -> None:
        self.stopping.set()

    # ── one tick ──
    def sample(self) -> None:
        """Ask every part for a fresh reading and wait a short budget: a part that hangs keeps
        its previous reading (with its age) and costs the tick nothing more."""
        parts: list[Sampler[Any]] = [self.live_colour.sampler, self.traffic.sampler]
        if self.head is not None:
            parts.append(self.head)
        for watch in self.watches.values():
            parts += watch.wanted()
        parts += self.parity.wanted(self.inst.store.live(), self.previous)
        interval = self.inst.config.readiness.sample_interval_seconds
        sample_round(parts, min(_ROUND_BUDGET_SECONDS, 0.5 * interval))

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
        # The live colour first, so the candidate is compared with its height from this tick.
        for color in (live, other(live)) if live else COLORS:
            deployment = store.active_deployment(color)
            watch = self.watches[color]
            watch.parity = self.parity.report()
            status = watch.observe(now, head, live, live_sample, deployment)
            if color == live and status.height is not None and watch.last_sample is not None:
                live_sample = Sample(watch.last_sample.at, status.head, status.height)
            if self.head is not None:
                status = replace(status, readings=(*status.readings, self.head.published()))
            if head_error and status.reason is None and status.state != SlotState.EMPTY:
                status = replace(status, reason=head_error)
            status = replace(status, traffic=self.traffic.figures(color))
            status = self.resource_alerts.annotate(color, status, live, self.previous)
            status = replace(status, parity=watch.parity)
            status = self.analysis.gate(status, live)
            statuses[color] = status
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
        record_state_changes(store, str(AGENT_ACTOR), self.previous, statuses)
        for color, status in statuses.items():
            self._transitions(color, status, live)
        self.resource_alerts.after_tick(statuses, now)
        self._post_switch_watch(now, statuses)
        self.analysis.post_switch(now)  # traffic analysis: console/agent/analysis_watch.py
        self.retirement.tick(now, statuses)
        self.previous = statuses
        store.put_proxy_reading(self.live_colour.sampler.published())
        store.heartbeat("agent")
        if now - self.last_prune > _PRUNE_EVERY_SECONDS:
            store.prune_samples(now - _SAMPLE_RETENTION_SECONDS)
            store.prune_metrics(now - _SAMPLE_RETENTION_SECONDS)
            self.last_prune = now

    # ── deployment phases, notifications and the switch policy ──
    def _transitions(self, color: Color, status: SlotStatus, live: Color | None) -> None:
        store, notify = self.inst.store, self.inst.notifier
        deployment = store.active_deployment(color)
        before = self.previous.get(color)
        if deployment is None or deployment.phase == Phase.SWITCHING:
            return
        if status.deployment_id != deployment.id:
            return  # an older container still answers for this colour: not this deployment's state
        if live == color:
            if deployment.phase != Phase.LIVE:  # adopted by reconcile, or switched by hand
                store.set_phase(deployment.id, Phase.LIVE)
            return
        if Phase.LIVE in deployment.phases:
            return  # once live, now kept for rollback: never a candidate for the policy again
        service = self.inst.config.service
        if status.state == SlotState.FAILED:
            if before is None or before.state != SlotState.FAILED:
                text = f"{color} ({deployment.version}) failed: {status.reason}"
                store.record_event("failure", text, "error", str(AGENT_ACTOR), color, deployment.id)
                notify.send("failure", f"{service}: {text}", "error")
                if status.container_state != "running" or "restart" in (status.reason or ""):
                    store.set_phase(deployment.id, Phase.FAILED, status.reason)
            return
        if deployment.phase == Phase.STARTING and status.height is not None:
            store.set_phase(deployment.id, Phase.SYNCING)
            store.set_deployment_fields(
                deployment.id, start_height=status.height, target_height=status.head
            )
            notify.send(
                "deploy",
                f"{service}: {color} ({deployment.version}) is indexing from "
                f"{status.height}; target height {status.head}.",
            )
        if status.height is not None and status.state == SlotState.SYNCING:
            for mark in self.watches[color].tracker.crossed_milestones(
                self.inst.config.notify.every_blocks
            ):
                text = f"{color} ({deployment.version}) passed height {mark:,}."
                store.record_event(
                    "milestone", text, "info", str(AGENT_ACTOR), color, deployment.id
                )
                notify.send("milestone", f"{service}: {text}")
        eta = status.eta_seconds
        if (
            eta is not None
            and 0 < eta <= self.inst.config.notify.eta_warning_seconds
            and deployment.id not in self.eta_warned
            and status.state == SlotState.SYNCING
        ):
            self.eta_warned.add(deployment.id)
            notify.send(
                "eta",
                f"{service}: {color} ({deployment.version}) catches up in about "
                f"{eta / 60:.0f} min.",
            )
        if status.state == SlotState.READY and deployment.phase != Phase.READY:
            store.set_phase(deployment.id, Phase.READY)
            text = f"{color} ({deployment.version}) is ready: every readiness condition holds."
            store.record_event("ready", text, "success", str(AGENT_ACTOR), color, deployment.id)
            notify.send("ready", f"{service}: {text}")
        if (
            status.state == SlotState.READY
            and deployment.policy == SwitchPolicy.AUTO
            and live != color
        ):
            self._auto_switch(color)

    def _auto_switch(self, color: Color) -> None:
        try:
            for event in switch(self.inst, AGENT_ACTOR):
                if isinstance(event, Outcome):
                    self.log(f"auto switch to {color}: {event.text}")
        except LockHeld as exc:
            self.log(f"auto switch to {color} postponed: {exc}")

    # ── after a switch: watch the new colour and roll back if it fails ──
    def _post_switch_watch(self, now: float, statuses: dict[Color, SlotStatus]) -> None:
        watch = self.inst.store.watch()
        if watch is None:
            return
        color, until = watch
        live = self.inst.store.live()
        if live != color or now > until:
            if now > until and live == color:
                self.inst.store.record_event(
                    "watch",
                    f"{color} passed its post-switch watch.",
                    "success",
                    str(AGENT_ACTOR),
                    color,
                )
            self.inst.store.set_watch(color, 0.0)
            self.live_bad_ticks = 0
            return
        status = statuses[color]
        bad = (
            status.container_state != "running"
            or status.healthy is False
            or (
                status.restart_count > 0
                and self.previous.get(color) is not None
                and status.restart_count > self.previous[color].restart_count
            )
        )
        self.live_bad_ticks = self.live_bad_ticks + 1 if bad else 0
        if (
            self.live_bad_ticks < _FAILED_TICKS_BEFORE_ROLLBACK
            or not self.inst.config.switch.auto_rollback
        ):
            return
        reason = (
            f"{color} failed within its post-switch window: container "
            f"{status.container_state}, health "
            f"{'failing' if status.healthy is False else 'unknown'}."
        )
        try:
            with self.inst.lock.acquire("automatic rollback", AGENT_ACTOR):
                for event in rollback_locked(self.inst, AGENT_ACTOR, reason):
                    self.log(f"auto rollback: {event.text}")
        except LockHeld as exc:
            self.log(f"auto rollback postponed: {exc}")
        self.live_bad_ticks = 0


def _stale_after(inst: Installation) -> float:
    return STALE_AFTER_INTERVALS * inst.config.readiness.sample_interval_seconds


def run_agent(inst: Installation, metrics_listen: str | None = None) -> int:
    """Run the agent; `metrics_listen` ("HOST:PORT", validated by the caller) overrides
    `[metrics] listen` and turns the Prometheus exporter on."""

    def log(text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        print(f"{stamp} {inst.redactor.redact(text)}", flush=True)

    agent = Agent(inst, log)
    agent.metrics_listen = metrics_listen or inst.config.metrics.listen

    def on_signal(signum: int, frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the operator's SSH session ending is not our end
    try:
        return agent.run()
    finally:
        inst.close()
        sys.stdout.flush()
