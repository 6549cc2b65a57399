"""Watch one colour: its container, indexed height, logs, HTTP checks and readiness gate.

`SlotWatch.observe()` is called once a tick by the agent and returns the colour's `SlotStatus`.
State is per container instance: a new container (new deployment) resets the tracker, the gate
and the log-pattern watcher, so nothing seen by a previous version counts for the new one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from console.core.model import Color, Sample, SlotState, SlotStatus
from console.core.readiness import GateInputs, ReadinessGate
from console.core.redact import sanitize_log_line
from console.core.tracking import CatchupTracker
from console.drivers.checks import HttpChecker, LogPatternWatcher
from console.drivers.heights import SourceUnavailable, make_candidate_source

if TYPE_CHECKING:
    from console.core.installation import Installation
    from console.core.model import Deployment
    from console.drivers.docker_model import ContainerInfo

_ERROR_WORDS = ("ERROR", "error", "panic", "FATAL", "Traceback")


class LogFollower:
    """A thread that follows one container's logs, feeding the readiness pattern and keeping the
    last lines (sanitized, redacted) to explain a failure."""

    def __init__(self, inst: Installation, container: str, pattern: str) -> None:
        self.inst = inst
        self.container = container
        self.pattern = LogPatternWatcher(pattern) if pattern else None
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
        self.candidate = make_candidate_source(inst.config, color)
        self.checker = HttpChecker(f"http://127.0.0.1:{self.slot.host_port}")
        self.gate = ReadinessGate(readiness)
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
        self._read_head: Callable[[], int | None] | None = None

    def close(self) -> None:
        if self.logs:
            self.logs.stop()
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
        self.tracker = self._new_tracker()
        self.logs = LogFollower(
            self.inst, self.slot.container, self.inst.config.readiness.log_pattern
        )

    def observe(
        self,
        now: float,
        head: int | None,
        live: Color | None,
        live_height: int | None,
        deployment: Deployment | None,
        read_head: Callable[[], int | None] | None = None,
    ) -> SlotStatus:
        """One tick: read everything about this colour and derive its state. With `read_head`,
        the head for this colour's lag is read right after its height (see `_running`)."""
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
        self._read_head = read_head
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
        try:
            height = self.candidate.read()
            # Height first, then the head, stamped when both are in: the lag computed is then
            # at least the true lag at the stamp, so the gate's hold never starts early.
            if self._read_head is not None:
                head = self._read_head()
            sampled = Sample(time.time(), head, height)
            self.tracker.add(sampled)
            self.last_sample = sampled
        except SourceUnavailable as exc:
            reason = str(exc)
        health_ok, _ = self.checker.health(self.inst.config.readiness.health_path)
        readiness = self.inst.config.readiness
        smoke_ok: bool | None = None
        smoke_detail = ""
        if readiness.smoke_path:
            smoke_ok, smoke_detail = self.checker.smoke(
                readiness.smoke_method, readiness.smoke_path, readiness.smoke_body
            )
        sample_at = self.last_sample.at if self.last_sample else None
        result = self.gate.evaluate(
            GateInputs(
                # The checks above took time: "held for hold seconds" is measured to now.
                now=max(now, time.time()),
                lag=self.tracker.lag,
                sample_at=sample_at if reason is None else None,
                log_pattern_seen=self.logs.pattern_seen if self.logs else None,
                health_ok=health_ok,
                smoke_ok=smoke_ok,
                smoke_detail=smoke_detail,
                height=self.tracker.height,
                live_height=live_height,
                is_live_candidate=live in (None, self.color),
            )
        )
        state = self._running_state(info, now, live, result.ready, deployment)
        if state == SlotState.FAILED:
            reason = self._running_failure(info, now)
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
        if self.tracker.height is None:
            timeout = self.inst.config.image.start_timeout_seconds
            if deployment is not None and self.started_at and now - self.started_at > timeout:
                return SlotState.FAILED
            return SlotState.STARTING
        return SlotState.READY if ready else SlotState.SYNCING

    def _running_failure(self, info: ContainerInfo, now: float) -> str:
        if info.restart_count > self.restarts_at_start:
            return self._failure_reason(info)
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
