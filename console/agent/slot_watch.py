"""Watch one colour: its container, indexed height, logs, HTTP checks and readiness gate.

Each part is read by its own sampler (console/agent/samplers.py): Docker, the colour's progress
source and its HTTP checks. `SlotWatch.observe()` is called once a tick, after the agent's sample
round, and composes the colour's `SlotStatus` from the latest readings and their ages — so a hung
Docker daemon leaves the heights and health fresh (with the container as last seen, marked stale),
and a hung database leaves the container and health fresh.

State is per container instance: a new container (new deployment) resets the tracker, the gate
and the log-pattern watcher, so nothing seen by a previous version counts for the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from console.agent.container_cache import InspectCache
from console.agent.log_follower import LogWatch, watch_logs
from console.agent.replica_checks import counted, replica_condition, replica_status
from console.agent.replica_progress import TaskProgress
from console.agent.resource_watch import ResourceWatch
from console.agent.samplers import Sampled, Sampler
from console.agent.slot_checks import SlotChecks
from console.agent.slot_compose import docker_silent_status
from console.agent.slot_verdicts import container_failure, container_status, running_failure
from console.core.config.schema import Config
from console.core.contracts.offers import offers
from console.core.contracts.progress import Reading
from console.core.contracts.runtime import ReplicaSet, ReplicatedRuntime, Runtime
from console.core.gate.readiness import STALE_AFTER_INTERVALS, GateInputs, ReadinessGate
from console.core.gate.tracking import CatchupTracker
from console.core.model import Color, Condition, PartReading, Sample, SlotState, SlotStatus
from console.core.redact import Redactor
from console.drivers.progress import make_candidate_source, make_head_source, make_task_source

if TYPE_CHECKING:
    from console.core.contracts.runtime import ContainerInfo
    from console.core.measures.parity import ParityReport
    from console.core.model import Deployment


class SlotWatch:
    def __init__(
        self,
        config: Config,
        color: Color,
        runtime: Callable[[], Runtime],
        redactor: Redactor,
    ) -> None:
        # `runtime` is asked for on the sampler and log threads only (see Agent in loop.py).
        self.config = config
        self.runtime = runtime
        self.redactor = redactor
        self.color = color
        self.slot = config.slot(color)
        readiness = config.readiness
        self.stale_after = STALE_AFTER_INTERVALS * readiness.sample_interval_seconds
        # None for a service that does not re-index: no height, no lag condition.
        self.candidate = make_candidate_source(config, color)
        # On a runtime of replicas, each one's own height where it answers (if read over HTTP).
        self.task_progress = TaskProgress(partial(make_task_source, config, color))
        # Without an independent [head], the colour's own answer carries the head it reports.
        self.own_head = config.effective_head is None
        # With one, this colour reads it again right after its own height, on its own
        # connection: head − height is then an upper bound of the lag at the sample's stamp, so
        # the gate's hold can never start early (a head read before the height under-estimates).
        self.paired_head = (
            make_head_source(config) if self.candidate is not None and not self.own_head else None
        )
        # Its replicas as last read with the container (None: one container, not a Swarm).
        self.replica_set: ReplicaSet | None = None
        self.http = SlotChecks(config, color, self.stale_after, lambda: self.replica_set)
        self.gate = ReadinessGate(readiness, catchup=self.candidate is not None)
        self.ever_ready = False
        self.parity: ParityReport | None = None  # set by the agent each tick (parity_watch.py)
        self.tracker = self._new_tracker()
        self.container_id: str | None = None
        self.restarts_at_start = 0
        self.started_at: float | None = None
        self.logs: LogWatch | None = None
        self.last_sample: Sample | None = None
        self.new_sample = False  # a height reading arrived this tick (the agent stores it)
        self._unwatched = False  # Docker or the height source did not answer: not a stall
        self._seen_started_at: float | None = None
        self._height_round = 0
        self._height_silent = False  # the height source is failing or has not answered
        self.inspects = InspectCache(runtime, self.slot.container)
        self.docker: Sampler[ContainerInfo | None] = Sampler(
            "docker",
            "Docker",
            self._read_engine,
            explain=lambda exc: f"Docker unavailable: {exc}",
            stale_after=self.stale_after,
            kept=self.inspects.known,  # the engine's events vouch for it: no thread woken
        )
        self.progress: Sampler[Reading] | None = None
        if self.candidate is not None:
            self.progress = Sampler(
                "height", self.candidate.label, self._read_progress, stale_after=self.stale_after
            )
        self.checks = self.http.sampler
        self.resources = ResourceWatch(
            color, self.slot, config.resources, runtime, self.stale_after
        )

    def close(self) -> None:
        if self.logs:
            self.logs.stop()
        for sampler in self.samplers():
            sampler.close()
        self.resources.close()
        if self.candidate is not None:
            self.candidate.close()
        self.task_progress.close()
        if self.paired_head is not None:
            self.paired_head.close()

    def _read_engine(self) -> ContainerInfo | None:
        """The container (a Swarm: its service), and where a runtime runs several, its replicas:
        read together so the gate counts the tasks of the container it shows."""
        runtime = self.runtime()
        # One read of the service and its tasks.
        if offers(runtime, ReplicatedRuntime):  # type: ignore[type-abstract]
            info, self.replica_set = runtime.inspect_replicas(self.slot.container)
            return info
        return self.inspects.read()  # kept while Docker's events say nothing changed

    def _read_progress(self) -> Reading:
        """The colour's height, then (with an independent head) the head: one reading, stamped
        by its sampler once both are in. A colour of replicas read over HTTP: the slowest
        replica's height (replica_progress.py)."""
        assert self.candidate is not None
        replicas = self.replica_set
        if replicas is not None and self.task_progress.per_task:
            reading = self.task_progress.read(replicas)
        else:
            reading = self.candidate.read()
        if self.paired_head is None or reading.height is None:
            return reading
        return Reading(reading.height, self.paired_head.read().height)

    @property
    def _head_in_reading(self) -> bool:
        return self.own_head or self.paired_head is not None

    def samplers(self) -> list[Sampler[Any]]:
        parts: list[Sampler[Any]] = [self.docker, self.checks]
        return parts + ([self.progress] if self.progress is not None else [])

    def wanted(self) -> list[Sampler[Any]]:
        """What to read this tick: no height or HTTP checks for a colour known to be down."""
        info = self.docker.latest().value
        if self.docker.latest().answered_at and (info is None or not info.running):
            return [self.docker]
        return self.samplers() + self.resources.wanted()

    def readings(self) -> tuple[PartReading, ...]:
        parts = self.samplers() + self.resources.samplers()
        return tuple(sampler.published() for sampler in parts)

    def _new_tracker(self) -> CatchupTracker:
        readiness = self.config.readiness
        return CatchupTracker(
            window_seconds=30.0,
            stall_seconds=readiness.stall_seconds,
            max_lag=readiness.max_lag,
            leave_after_seconds=readiness.leave_after_seconds,
        )

    def _new_instance(self, info: ContainerInfo, now: float) -> None:
        if self.logs:
            self.logs.stop()
        self.container_id = info.id
        self.restarts_at_start = info.restart_count
        self.started_at = info.started_at or now
        self.gate.reset()
        self.ever_ready = False
        self.tracker = self._new_tracker()
        self.last_sample = None
        # Readings taken before this container was seen belong to the previous one (its height,
        # its health): only rounds that complete from now on count.
        if self.progress is not None:
            self._height_round = self.progress.latest().round
        self.http.forget_previous()
        if self.candidate is not None:
            self.candidate.reset()  # a log source must not keep the old container's height
        self.logs = watch_logs(
            self.runtime,
            self.redactor,
            self.slot.container,
            self.config.readiness.log_pattern,
            self.candidate,
        )

    def observe(
        self,
        now: float,
        head: Sampled[int | None] | None,
        live: Color | None,
        live_sample: Sample | None,
        deployment: Deployment | None,
    ) -> SlotStatus:
        """One tick: compose this colour's state from the latest readings of its parts."""
        docker = self.docker.latest()
        self.new_sample = False
        if docker.answered_at == 0:  # never answered since the agent started
            reason = docker.error or self.docker.published().describe(now)
            return SlotStatus(
                self.color,
                SlotState.EMPTY,
                reason=reason,
                updated_at=now,
                readings=self.readings(),
            )
        info = docker.value
        if docker.error is None:
            self.resources.follow(info)  # a silent Docker: the stream retries on its own
        docker_silent = docker.waiting_since is not None and (
            docker.error is not None or self.docker.stale(now)
        )
        if info is None:
            if self.logs:
                self.logs.stop()
                self.logs = None
            self.container_id = None
            return SlotStatus(self.color, SlotState.EMPTY, updated_at=now, readings=self.readings())
        if docker_silent:
            # Keep the container as last seen (it most likely still runs) and go on composing
            # from the parts that do answer: heights and health stay fresh.
            self._unwatched = True
        elif info.id != self.container_id:
            self._new_instance(info, now)
        elif self._unwatched or info.started_at != self._seen_started_at:
            # Docker was gone, or restarted this container in place: the service is resuming,
            # and the minutes it could not index must not read as a stall.
            self.tracker.restart_stall_clock(now)
            self._unwatched = False
        self._seen_started_at = info.started_at
        base = container_status(self.color, info, now)
        if info.running:
            status = self._running(info, now, head, live, live_sample, deployment, base)
        else:
            status = self._not_running(info, deployment, base)
        resources = self.resources.figures(self.tracker.eta_seconds)
        replicas = replica_status(self.replica_set, self.http.results(now).replicas)
        status = replace(status, readings=self.readings(), resources=resources, replicas=replicas)
        if docker_silent:
            status = docker_silent_status(
                status, docker.error, self.docker.published().describe(now)
            )
        return status

    def _not_running(
        self, info: ContainerInfo, deployment: Deployment | None, base: SlotStatus
    ) -> SlotStatus:
        exited = info.exit_code not in (0, None) or info.state == "dead"
        crashed = info.state == "restarting" or (deployment is not None and exited)
        return replace(
            base,
            state=SlotState.FAILED if crashed else SlotState.STOPPED,
            reason=self._failure_reason(info) if crashed else None,
            height=self.tracker.height,
            head=self.tracker.head,
        )

    def _failure_reason(self, info: ContainerInfo) -> str:
        last = self.logs.last_error() if self.logs else None
        return container_failure(info, self.restarts_at_start, self.tracker.height, last)

    def _running(
        self,
        info: ContainerInfo,
        now: float,
        head: Sampled[int | None] | None,
        live: Color | None,
        live_sample: Sample | None,
        deployment: Deployment | None,
        base: SlotStatus,
    ) -> SlotStatus:
        reason, sample_at = self._take_height(now, head)
        results = self.http.results(now)
        checked = counted(results, results.replicas, self.replica_set)  # every replica must pass
        result = self.gate.evaluate(
            GateInputs(
                now=now,
                lag=self.tracker.lag,
                sample_at=sample_at,
                log_pattern_seen=self.logs.pattern_seen if self.logs else None,
                health_ok=checked.health_ok,
                health_detail=checked.health_detail,
                checks=checked.checks,
                smoke_ok=checked.smoke_ok,
                smoke_detail=checked.smoke_detail,
                height=self.tracker.height,
                live_height=live_sample.height if live_sample else None,
                live_sample_at=live_sample.at if live_sample else None,
                head_speed=self.tracker.head_speed,
                is_live_candidate=live in (None, self.color),
                disk=self.resources.outlook(self.tracker.eta_seconds),
                parity=self.parity,
                replicas=replica_condition(self.replica_set),
            )
        )
        self.ever_ready = self.ever_ready or result.ready
        state = self._running_state(info, now, live, result.ready, deployment)
        if state == SlotState.FAILED:
            reason = self._running_failure(info, now, result.conditions)
        return replace(
            base,
            state=state,
            healthy=checked.health_ok,
            height=self.tracker.height,
            head=self.tracker.head,
            lag=self.tracker.lag,
            progress=self.tracker.progress,
            speed=self.tracker.speed,
            head_speed=self.tracker.head_speed,
            eta_seconds=self.tracker.eta_seconds,
            at_head=self.tracker.at_head,
            conditions=result.conditions,
            ready=result.ready and state != SlotState.FAILED,  # a crash loop is never switchable
            reason=reason,
        )

    def _take_height(
        self, now: float, head: Sampled[int | None] | None
    ) -> tuple[str | None, float | None]:
        """Feed a new height reading (if one arrived) to the tracker, at the time it was read.
        Returns (reason, when the lag was measured — None when the source is failing)."""
        if self.progress is None:
            return None, None
        sampled = self.progress.latest()
        if sampled.round != self._height_round and sampled.waiting_since is None:
            self._height_round = sampled.round
            if sampled.value is not None:
                if self._height_silent:
                    # The source could not be read: the time it was silent is not a stall.
                    self.tracker.restart_stall_clock(now)
                    self._height_silent = False
                head_height = head.value if head is not None else None
                sample = Sample(
                    sampled.answered_at,
                    sampled.value.head if self._head_in_reading else head_height,
                    sampled.value.height,
                )
                self.tracker.add(sample)
                self.last_sample = sample
                self.new_sample = True
        if sampled.error is not None:
            self._height_silent = True
            return sampled.error, None
        if self.progress.stale(now):
            self._height_silent = True
        sample_at = self.last_sample.at if self.last_sample else None
        if sample_at is not None and head is not None and not self._head_in_reading:
            # The lag is only as fresh as the older of its two readings.
            sample_at = min(sample_at, head.answered_at) if head.answered_at else None
        return None, sample_at

    def _running_state(
        self,
        info: ContainerInfo,
        now: float,
        live: Color | None,
        ready: bool,
        deployment: Deployment | None,
    ) -> SlotState:
        if live == self.color:
            return SlotState.LIVE
        stalled = not self._height_silent and self.tracker.stalled(now)
        if info.restart_count > self.restarts_at_start or stalled:
            return SlotState.FAILED
        timeout = self.config.image.start_timeout_seconds
        timed_out = bool(
            deployment is not None and self.started_at and now - self.started_at > timeout
        )
        if self.candidate is None:  # no catch-up: starting until ready (once, within the timeout)
            if ready:
                return SlotState.READY
            return SlotState.FAILED if timed_out and not self.ever_ready else SlotState.STARTING
        if self.tracker.height is None:
            return SlotState.FAILED if timed_out else SlotState.STARTING
        return SlotState.READY if ready else SlotState.SYNCING

    def _running_failure(
        self, info: ContainerInfo, now: float, conditions: tuple[Condition, ...]
    ) -> str:
        return running_failure(
            info,
            self.restarts_at_start,
            catches_up=self.candidate is not None,
            start_timeout=self.config.image.start_timeout_seconds,
            conditions=conditions,
            tracker=self.tracker,
            now=now,
            last_error=self.logs.last_error() if self.logs else None,
        )
