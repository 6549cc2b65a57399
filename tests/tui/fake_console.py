"""A deterministic stand-in for `Console`, for testing the TUI's own logic only.

Same method signatures as `console.core.service.Console`; fixed data (blue live on v1, green
mid-sync on v2), a fixed clock, and a record of every call so tests can assert what the UI asked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from console.core.config.schema import Config
from console.core.config.sources import SqlSource
from console.core.measures.parity import ParityReport, ParityResult
from console.core.measures.resources import ResourceFigures
from console.core.model import (
    AgentInfo,
    Color,
    Condition,
    EventRecord,
    LockHolder,
    OperationEvent,
    Outcome,
    Progress,
    RollbackPlan,
    Sample,
    SlotState,
    SlotStatus,
    SpeedPoint,
    Status,
    SwitchPlan,
    SwitchPolicy,
)
from console.core.service import ReadOnlyError

FIXED_NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


def fixed_clock() -> float:
    return FIXED_NOW


GATE_NOT_MET = (
    Condition("lag ≤ 2 for 5 s", False, "lag 412,330"),
    Condition("log 'catchup completed'", False, "not seen yet"),
    Condition("health /health", True),
    Condition("not behind live", False, "412,330 behind blue"),
    Condition(
        "free_disk_after_catchup", False, "fills before caught up: full in 17m04s, ETA 22m05s"
    ),
)
GATE_MET = tuple(Condition(c.name, True) for c in GATE_NOT_MET)


def _slots(gate_met: bool) -> dict[Color, SlotStatus]:
    now = FIXED_NOW
    blue = SlotStatus(
        color="blue",
        state=SlotState.LIVE,
        image="explorer:v1",
        version="v1",
        deployment_id=1,
        container_state="running",
        healthy=True,
        started_at=now - 3 * 86_400 - 4_000,
        height=4_212_345,
        head=4_212_346,
        lag=1,
        progress=1.0,
        speed=1.0,
        head_speed=1.0,
        conditions=GATE_MET,
        ready=True,
        updated_at=now - 1,
        resources=ResourceFigures(
            cpu_percent=18.0,
            memory_bytes=612 << 20,
            memory_limit_bytes=4 << 30,
            block_read_bps=float(120 << 10),
            block_write_bps=float(40 << 10),
            db_size_bytes=61 << 30,
            db_growth_bps=float(2 << 10),
            disk_free_bytes=9 << 30,
            disk_full_in_seconds=(9 << 30) / float(2 << 10),
            cpu_history=(21.0, 24.0, 22.0, 30.0, 41.0, 35.0, 28.0, 19.0, 18.0, 17.0, 18.0, 18.0),
        ),
    )
    green = SlotStatus(
        color="green",
        state=SlotState.READY if gate_met else SlotState.SYNCING,
        image="explorer:v2",
        version="v2",
        deployment_id=2,
        container_state="running",
        healthy=True,
        started_at=now - 5 * 3_600 - 720,
        height=4_212_345 if gate_met else 3_800_016,
        head=4_212_346,
        lag=1 if gate_met else 412_330,
        progress=1.0 if gate_met else 0.622,
        speed=312.4,
        head_speed=1.0,
        eta_seconds=None if gate_met else 1_325.0,
        conditions=GATE_MET if gate_met else GATE_NOT_MET,
        ready=gate_met,
        updated_at=now - 1,
        resources=_candidate_resources(gate_met),
    )
    parity = _parity(green.height or 0)
    return {"blue": replace(blue, parity=parity), "green": replace(green, parity=parity)}


def _parity(green_height: int) -> ParityReport:
    """Both colours compared at H = min(heights) − 5: the same block hashes."""
    height = min(4_212_345, green_height) - 5
    checks = (
        ParityResult("block hash", "match", "0x9f3c…e1", "0x9f3c…e1"),
        ParityResult("last 1000 hashes", "match", "1000:5d41…", "1000:5d41…"),
    )
    return ParityReport(height, 5, checks, FIXED_NOW - 3, 4_212_345, green_height)


def _candidate_resources(gate_met: bool) -> ResourceFigures:
    # Mid-sync the disk runs out before the ETA (2 GiB at 2 MiB/s = 17 min < 22 min).
    free = 2 << 30
    return ResourceFigures(
        cpu_percent=71.0,
        memory_bytes=1_430 << 20,
        memory_limit_bytes=4 << 30,
        block_read_bps=float(3 << 20),
        block_write_bps=float(9 << 20),
        db_size_bytes=38 << 30,
        db_growth_bps=float(2 << 20),
        disk_free_bytes=free,
        disk_full_in_seconds=free / float(2 << 20),
        fills_before_caught_up=None if gate_met else True,
        warnings=()
        if gate_met
        else ("green's database fills its disk /var/lib/postgresql before caught up.",),
        cpu_history=(40.0, 55.0, 62.0, 70.0, 74.0, 69.0, 72.0, 75.0, 71.0, 68.0, 73.0, 71.0),
    )


def _events() -> list[EventRecord]:
    now = FIXED_NOW
    return [
        EventRecord(
            1,
            now - 3 * 86_400,
            "deploy",
            "info",
            "Deployed explorer:v1 to blue",
            "alice",
            "blue",
            1,
        ),
        EventRecord(
            2,
            now - 3 * 86_400 + 600,
            "switch",
            "success",
            "Switched to blue (cutover 41 ms)",
            "alice",
            "blue",
            1,
        ),
        EventRecord(
            3,
            now - 5 * 3_600 - 720,
            "deploy",
            "info",
            "Deployed explorer:v2 to green",
            "bob@10.0.0.7",
            "green",
            2,
        ),
        EventRecord(
            4, now - 2 * 3_600, "milestone", "info", "green passed 3,000,000", "agent", "green", 2
        ),
        EventRecord(
            5,
            now - 600,
            "failure",
            "warning",
            "green restarted once (exit 137)",
            "agent",
            "green",
            2,
        ),
    ]


class FakeConsole:
    def __init__(
        self,
        *,
        read_only: bool = False,
        gate_met: bool = False,
        log_lines: dict[Color, list[str]] | None = None,
    ) -> None:
        self.config = Config(service="explorer", candidate=SqlSource())
        self.read_only = read_only
        self.gate_met = gate_met
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.status_error: Exception | None = None
        self.lock: LockHolder | None = None
        self.extra_events: list[EventRecord] = []
        self.operation_error: Exception | None = None
        # When set, mutations wait for this before yielding their outcome (a long operation).
        self.hold_operation: threading.Event | None = None
        self.operation_closed = threading.Event()
        self.follow_started: list[Color] = []
        self.follow_stopped: list[Color] = []
        self.log_script: dict[Color, list[str]] = log_lines or {
            "blue": [
                f"INFO catchup: cometindex::indexer: catchup completed #{i}" for i in range(5)
            ],
            "green": [
                f"INFO Processing block height {3_800_000 + i} with 0 transactions"
                for i in range(5)
            ],
        }

    # ── reads ──
    def status(self) -> Status:
        self.calls.append(("status", {}))
        if self.status_error is not None:
            raise self.status_error
        return Status(
            service="explorer",
            live="blue",
            previous=None,
            slots=_slots(self.gate_met),
            agent=AgentInfo(
                running=True, pid=4242, since=FIXED_NOW - 86_400, heartbeat=FIXED_NOW - 1
            ),
            lock=self.lock,
            read_only=self.read_only,
            at=FIXED_NOW - 1,
            canary=getattr(self, "running_canary", None),
            sessions=getattr(self, "running_sessions", None),
        )

    def events(self, after_id: int = 0, limit: int = 200) -> list[EventRecord]:
        return [e for e in _events() + self.extra_events if e.id > after_id][:limit]

    notices_changes = False  # polled, like an installation on SQLite

    def wait_for_change(self, timeout: float) -> bool:
        return False

    def samples(self, color: Color, since: float) -> list[Sample]:
        return []

    def speed_history(self, color: Color, since: float) -> list[SpeedPoint]:
        if color == "blue":
            return [SpeedPoint(FIXED_NOW - 60 * m, 1.0, None) for m in range(60, -1, -1)]
        # Speed wobbling around 300 b/s, ETA shrinking towards the end of the hour.
        return [
            SpeedPoint(FIXED_NOW - 60 * m, 300 + (m % 7) * 6.0, 1_325.0 + 60 * m * 1.1)
            for m in range(60, -1, -1)
        ]

    def recent_images(self, limit: int = 10) -> list[str]:
        return ["explorer:v2", "explorer:v1", "explorer:v0.9"][:limit]

    def plan_switch(self) -> SwitchPlan:
        slot = _slots(self.gate_met)["green"]
        return SwitchPlan("blue", "green", slot.image, slot.version, self.gate_met, slot.conditions)

    def plan_rollback(self) -> RollbackPlan:
        return RollbackPlan("blue", "green", SlotState.SYNCING, "v2", 412_330, behind_live=True)

    # ── logs ──
    def log_lines(self, color: Color, tail: int = 300) -> list[str]:
        return self.log_script[color][-tail:]

    def follow_logs(self, color: Color, stop: threading.Event, tail: int = 200) -> Iterator[str]:
        self.follow_started.append(color)
        try:
            yield from self.log_script[color]
            while not stop.wait(0.02):
                pass
        finally:
            self.follow_stopped.append(color)

    # ── mutations ──
    def _operation(self, name: str, **kwargs: Any) -> Iterator[OperationEvent]:
        self.calls.append((name, kwargs))
        if self.read_only:
            raise ReadOnlyError(name)
        if self.operation_error is not None:
            raise self.operation_error
        try:
            yield Progress(f"{name}: checking", at=FIXED_NOW)
            if self.hold_operation is not None:
                self.hold_operation.wait(10)
            yield Progress(f"{name}: done waiting", level="success", at=FIXED_NOW)
            yield Outcome(True, f"{name} finished", at=FIXED_NOW, cutover_ms=None)
        except GeneratorExit:
            self.operation_closed.set()
            raise

    def deploy(
        self,
        image: str,
        env: dict[str, str] | None = None,
        policy: SwitchPolicy | None = None,
    ) -> Iterator[OperationEvent]:
        return self._operation("deploy", image=image, env=env, policy=policy)

    def switch(self, force: bool = False) -> Iterator[OperationEvent]:
        return self._operation("switch", force=force)

    def rollback(self) -> Iterator[OperationEvent]:
        return self._operation("rollback")

    def canary(self, percent: int, force: bool = False) -> Iterator[OperationEvent]:
        return self._operation("canary", percent=percent, force=force)

    def canary_abort(self) -> Iterator[OperationEvent]:
        return self._operation("canary_abort")

    def canary_promote(self, force: bool = False) -> Iterator[OperationEvent]:
        return self._operation("canary_promote", force=force)

    def sessions(self) -> Any:
        return getattr(self, "running_sessions", None)

    def sessions_retire(self) -> Iterator[OperationEvent]:
        return self._operation("sessions_retire")

    def mutations(self) -> list[tuple[str, dict[str, Any]]]:
        return [call for call in self.calls if call[0] in ("deploy", "switch", "rollback")]

    def mutation_calls(self) -> list[str]:
        return [name for name, _ in self.mutations()]

    def with_lock(self, user: str = "carol", action: str = "deploy") -> None:
        self.lock = LockHolder(user, action, FIXED_NOW - 95, 999, "10.0.0.9")
