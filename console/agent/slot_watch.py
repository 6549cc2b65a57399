"""Watch one colour: its container, indexed height, logs, HTTP checks and readiness gate.

`SlotWatch.observe()` is called once a tick by the agent and returns the colour's `SlotStatus`.
State is per container instance: a new container (new deployment) resets the tracker, the gate
and the log-pattern watcher, so nothing seen by a previous version counts for the new one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

from console.core.config_sources import fill_url
from console.core.model import Color, Condition, Sample, SlotState, SlotStatus
from console.core.progress import ProgressSource, SourceUnavailable
from console.core.readiness import GateInputs, ReadinessGate
from console.core.redact import sanitize_log_line
from console.core.tracking import CatchupTracker
from console.drivers.checks import HttpChecker, LogPatternWatcher
from console.drivers.progress import make_candidate_source

if TYPE_CHECKING:
    from console.core.installation import Installation
    from console.core.model import Deployment
    from console.drivers.docker_model import ContainerInfo

_ERROR_WORDS = ("ERROR", "error", "panic", "FATAL", "Traceback")


class LogFollower:
    """A thread that follows one container's logs, feeding the readiness pattern and keeping the
    last lines (sanitized, redacted) to explain a failure."""

    def __init__(
        self,
        inst: Installation,
        container: str,
        pattern: str,
        progress: ProgressSource | None = None,
    ) -> None:
        self.inst = inst
        self.container = container
        self.pattern = LogPatternWatcher(pattern) if pattern else None
        # A `kind = "log"` progress source reads the same stream: logs are followed once.
        self.progress = progress if progress is not None and progress.reads_logs else None
        self.recent: deque[str] = deque(maxlen=50)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"logs-{container}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                for raw in self.inst.runtime.follow_logs(self.container, self.stop_event, tail=200):
                    line = sanitize_log_line(raw, self.inst.redactor)
                    self.recent.append(line)
                    if self.pattern is not None:
                        self.pattern.feed(line)
                    if self.progress is not None:
                        self.progress.feed_line(line)
            except Exception:
                pass  # the daemon restarted or the container went away; retry below
            self.stop_event.wait(1.0)

    @property
    def pattern_seen(self) -> bool | None:
        return self.pattern.seen if self.pattern is not None else None

    def last_error(self) -> str | None:
        for line in reversed(self.recent):
            if any(word in line for word in _ERROR_WORDS):
                return line[:300]
        return None

    def stop(self) -> None:
        self.stop_event.set()


class SlotWatch:
    def __init__(self, inst: Installation, color: Color) -> None:
        self.inst = inst
        self.color = color
        self.slot = inst.config.slot(color)
        readiness = inst.config.readiness
        # None for a service that does not re-index: no height, no lag condition.
        self.candidate = make_candidate_source(inst.config, color)
        # Without an independent [head], the colour's own answer carries the head it reports.
        self.own_head = inst.config.effective_head is None
        self.checker = HttpChecker(f"http://127.0.0.1:{self.slot.host_port}")
        self.check_urls = [
            (fill_url(c.url, self.slot.host_port, color, self.slot.container), c.expect_status)
            for c in readiness.checks
        ]
        self.gate = ReadinessGate(readiness, catchup=self.candidate is not None)
        self.ever_ready = False
        self.tracker = self._new_tracker()
        self.container_id: str | None = None
        self.restarts_at_start = 0
        self.started_at: float | None = None
        self.logs: LogFollower | None = None
        self.last_sample: Sample | None = None
        self.ready_since: float | None = None
        self.last_status: SlotStatus | None = None
        self._unwatched = False  # the last inspect failed (Docker unreachable)
        self._seen_started_at: float | None = None

    def close(self) -> None:
        if self.logs:
            self.logs.stop()
        if self.candidate is not None:
            self.candidate.close()

    def _new_tracker(self) -> CatchupTracker:
        return CatchupTracker(
            window_seconds=30.0, stall_seconds=self.inst.config.readiness.stall_seconds
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
        if self.candidate is not None:
            self.candidate.reset()  # a log source must not keep the old container's height
        self.logs = LogFollower(
            self.inst, self.slot.container, self.inst.config.readiness.log_pattern, self.candidate
        )

    def observe(
        self,
        now: float,
        head: int | None,
        live: Color | None,
        live_height: int | None,
        deployment: Deployment | None,
    ) -> SlotStatus:
        """One tick: read everything about this colour and derive its state."""
        try:
            info = self.inst.runtime.inspect(self.slot.container)
        except Exception as exc:
            # Keep what was last known (not "empty"): the container most likely still runs.
            reason = f"Docker unavailable: {exc}"
            self._unwatched = True
            if self.last_status is not None:
                return replace(self.last_status, reason=reason, updated_at=now)
            return SlotStatus(self.color, SlotState.EMPTY, reason=reason, updated_at=now)
        if info is None:
            if self.logs:
                self.logs.stop()
                self.logs = None
            self.container_id = None
            self.last_status = None
            return SlotStatus(self.color, SlotState.EMPTY, updated_at=now)
        if info.id != self.container_id:
            self._new_instance(info, now)
        elif self._unwatched or info.started_at != self._seen_started_at:
            # Docker was gone, or restarted this container in place: the service is resuming,
            # and the minutes it could not index must not read as a stall.
            self.tracker.restart_stall_clock(now)
        self._unwatched = False
        self._seen_started_at = info.started_at
        self.last_status = self._observe_container(info, now, head, live, live_height, deployment)
        return self.last_status

    def _observe_container(
        self,
        info: ContainerInfo,
        now: float,
        head: int | None,
        live: Color | None,
        live_height: int | None,
        deployment: Deployment | None,
    ) -> SlotStatus:
        base = SlotStatus(
            self.color,
            image=info.image,
            version=info.labels.get("bluegreen.version"),
            # The container's own label, not the store's newest row: during a re-deploy the old
            # container must never lend its readiness to the new deployment.
            deployment_id=_label_int(info.labels.get("bluegreen.deployment")),
            container_state=info.state,
            started_at=info.started_at,
            restart_count=info.restart_count,
            updated_at=now,
        )
        if not info.running:
            return self._not_running(info, deployment, base)
        return self._running(info, now, head, live, live_height, deployment, base)

    def _not_running(
        self, info: ContainerInfo, deployment: Deployment | None, base: SlotStatus
    ) -> SlotStatus:
        failed = deployment is not None and (
            info.exit_code not in (0, None) or info.state == "dead"
        )
        if info.state == "restarting" or failed:
            reason = self._failure_reason(info)
            return replace(
                base,
                state=SlotState.FAILED,
                reason=reason,
                height=self.tracker.height,
                head=self.tracker.head,
            )
        return replace(
            base, state=SlotState.STOPPED, height=self.tracker.height, head=self.tracker.head
        )

    def _failure_reason(self, info: ContainerInfo) -> str:
        where = f" at height {self.tracker.height}" if self.tracker.height is not None else ""
        if info.state == "restarting" or info.restart_count > self.restarts_at_start:
            what = f"restart-looping ({info.restart_count} restarts){where}"
        elif info.oom_killed:
            what = f"killed for running out of memory{where}"
        else:
            what = f"exited with code {info.exit_code}{where}"
        last = self.logs.last_error() if self.logs else None
        return f"Container {what}" + (f"; last error: {last}" if last else "")

    def _running(
        self,
        info: ContainerInfo,
        now: float,
        head: int | None,
        live: Color | None,
        live_height: int | None,
        deployment: Deployment | None,
        base: SlotStatus,
    ) -> SlotStatus:
        reason = None
        if self.candidate is not None:
            try:
                reading = self.candidate.read()
                sample = Sample(now, reading.head if self.own_head else head, reading.height)
                self.tracker.add(sample)
                self.last_sample = sample
            except SourceUnavailable as exc:
                reason = str(exc)
        readiness = self.inst.config.readiness
        health_ok, health_detail = self.checker.health(
            readiness.health_path, readiness.health_expect
        )
        checks = tuple(self.checker.check(url, status) for url, status in self.check_urls)
        smoke_ok: bool | None = None
        smoke_detail = ""
        if readiness.smoke_path:
            smoke_ok, smoke_detail = self.checker.smoke(
                readiness.smoke_method, readiness.smoke_path, readiness.smoke_body
            )
        sample_at = self.last_sample.at if self.last_sample else None
        result = self.gate.evaluate(
            GateInputs(
                now=now,
                lag=self.tracker.lag,
                sample_at=sample_at if reason is None else None,
                log_pattern_seen=self.logs.pattern_seen if self.logs else None,
                health_ok=health_ok,
                health_detail=health_detail,
                checks=checks,
                smoke_ok=smoke_ok,
                smoke_detail=smoke_detail,
                height=self.tracker.height,
                live_height=live_height,
                is_live_candidate=live in (None, self.color),
            )
        )
        self.ever_ready = self.ever_ready or result.ready
        state = self._running_state(info, now, live, result.ready, deployment)
        if state == SlotState.FAILED:
            reason = self._running_failure(info, now, result.conditions)
        return replace(
            base,
            state=state,
            healthy=health_ok,
            height=self.tracker.height,
            head=self.tracker.head,
            lag=self.tracker.lag,
            progress=self.tracker.progress,
            speed=self.tracker.speed,
            head_speed=self.tracker.head_speed,
            eta_seconds=self.tracker.eta_seconds,
            conditions=result.conditions,
            ready=result.ready,
            reason=reason,
        )

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
        if info.restart_count > self.restarts_at_start or self.tracker.stalled(now):
            return SlotState.FAILED
        timeout = self.inst.config.image.start_timeout_seconds
        timed_out = deployment is not None and self.started_at and now - self.started_at > timeout
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
        if info.restart_count > self.restarts_at_start:
            return self._failure_reason(info)
        if self.candidate is None:
            unmet = "; ".join(f"{c.name} ({c.detail})" for c in conditions if not c.met)
            return (
                f"Not ready after {self.inst.config.image.start_timeout_seconds:.0f} s: "
                f"{unmet or 'conditions not met'} (check its logs)."
            )
        if self.tracker.height is None:
            return (
                f"No height after {self.inst.config.image.start_timeout_seconds:.0f} s: the "
                "service never started indexing (check its logs)."
            )
        stalled_for = self.tracker.seconds_since_progress(now) or 0.0
        return (
            f"Stalled at height {self.tracker.height} for {stalled_for:.0f} s "
            f"(lag {self.tracker.lag})."
        )


def _label_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def uptime(status: SlotStatus, now: float | None = None) -> float | None:
    if status.started_at is None:
        return None
    return (time.time() if now is None else now) - status.started_at
