"""The shared vocabulary: colours, slot states, samples, and the progress events operations yield.

Everything here is a frozen dataclass or an enum so it can cross threads (agent, TUI workers) and
be stored or printed without surprises.
"""

from __future__ import annotations

import enum
import socket
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from console.core.colors import COLORS as COLORS
from console.core.colors import Color as Color
from console.core.colors import other as other
from console.core.colors import parse_color as parse_color
from console.core.holds import NO_HOLDS, Holds
from console.core.measures.parity import ParityReport
from console.core.replicas import ReplicaStatus

if TYPE_CHECKING:  # measures/sessions reads the store's rows, which import this module
    from console.core.contracts.edges import EdgesView
    from console.core.measures.sessions import MigrationView
from console.core.measures.resources import ResourceFigures
from console.core.measures.traffic import TrafficFigures


class SlotState(enum.StrEnum):
    """What a colour's slot is doing, as shown in `status` and on the panels."""

    EMPTY = "empty"  # no container
    STARTING = "starting"  # container up, no height yet
    SYNCING = "syncing"  # re-indexing, behind the head
    READY = "ready"  # readiness gate met, not taking traffic
    LIVE = "live"  # the proxy sends traffic here
    FAILED = "failed"  # exited, restart-looping, stalled or failed its gate
    STOPPED = "stopped"  # container exists but is not running (kept or retired)


class Phase(enum.StrEnum):
    """Phases of a deployment, stored with a timestamp each."""

    CREATED = "created"
    STARTING = "starting"
    SYNCING = "syncing"
    READY = "ready"
    SWITCHING = "switching"
    LIVE = "live"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETIRED = "retired"


class SwitchPolicy(enum.StrEnum):
    CONFIRM = "confirm"  # ready → wait for an operator's `switch`
    AUTO = "auto"  # ready → the agent switches
    NEVER = "never"  # never switch by itself, never prompts


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the chain head and a colour's indexed height, at wall-clock `at`."""

    at: float
    head: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class Condition:
    """One readiness-gate condition, e.g. ("lag ≤ 2 for 5 s", met=False, detail="lag 812")."""

    name: str
    met: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: the login behind sudo, the SSH client, the pid."""

    user: str
    ssh_client: str | None = None
    pid: int = 0

    def __str__(self) -> str:
        where = f"@{self.ssh_client}" if self.ssh_client else ""
        return f"{self.user}{where}"


# ── progress events yielded by operations ────────────────────────────────────────────────────────
# Operations are generators of these; the TUI posts them as Messages, the CLI prints them, the
# agent records them. `level` drives colour/notification; `text` is already redacted.

EventLevel = Literal["info", "warning", "error", "success"]


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of an operation, e.g. 'nginx -t passed'."""

    text: str
    level: EventLevel = "info"
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The last event of an operation: did it succeed, and a one-line summary."""

    ok: bool
    text: str
    at: float = field(default_factory=time.time)
    cutover_ms: float | None = None  # switch/rollback: command issued → first new-colour response


OperationEvent = Progress | Outcome


# ── read model: what `status` returns and the panels draw ────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class PartReading:
    """When one part the agent reads (Docker, a database, a colour's HTTP checks, the proxy) last
    answered. Published with each status, so every client can tell a stale part from a fresh one
    by its own clock: "Docker not answering for 12 s"."""

    part: str  # docker, height, head, checks, proxy
    label: str  # how sentences name it: "Docker", "the blue database"
    answered_at: float  # wall clock of the last answer; 0 = never
    waiting_since: float | None = None  # no answer since (a call in flight or failing)
    error: str | None = None  # the last call's failure, one redacted sentence
    stale_after: float = 3.0  # the publisher's rule: silent longer than this is stale

    def silent_for(self, now: float) -> float | None:
        """Seconds without an answer, or None while it answers."""
        if self.waiting_since is None:
            return None
        return max(0.0, now - self.waiting_since)

    def stale(self, now: float) -> bool:
        silent = self.silent_for(now)
        return silent is not None and silent > self.stale_after

    def describe(self, now: float) -> str:
        """E.g. 'Docker not answering for 12 s'."""
        silent = self.silent_for(now) or 0.0
        name = self.label[:1].upper() + self.label[1:]
        return f"{name} not answering for {silent:.0f} s"


@dataclass(frozen=True, slots=True)
class SlotStatus:
    """Everything known about one colour at `updated_at` (written by the agent, read by clients)."""

    color: Color
    state: SlotState = SlotState.EMPTY
    image: str | None = None
    version: str | None = None
    deployment_id: int | None = None
    container_state: str | None = None  # docker's: running, exited, restarting, …
    healthy: bool | None = None  # HTTP health of the container itself
    started_at: float | None = None
    restart_count: int = 0
    height: int | None = None
    head: int | None = None
    lag: int | None = None
    progress: float | None = None  # 0..1 of this deployment's catch-up
    speed: float | None = None  # blocks/s indexed (moving rate)
    head_speed: float | None = None  # blocks/s the chain grows
    eta_seconds: float | None = None  # from the closing speed; None = at the head or not closing
    at_head: bool = False  # caught up and following the head (within max_lag, see tracking.py)
    conditions: tuple[Condition, ...] = ()
    ready: bool = False
    reason: str | None = None  # why failed or degraded, one sentence, redacted
    updated_at: float = 0.0
    # When each part this status was composed from last answered (Docker, height, head, checks).
    readings: tuple[PartReading, ...] = ()
    # What users of this colour got, from the proxy's counters; None: no figures (yet).
    traffic: TrafficFigures | None = None
    # What this colour costs the host (Docker stats, database size, disk); None: not measured.
    resources: ResourceFigures | None = None
    # Both colours compared at a pinned height (the agent's latest); None: no [[parity]] or not yet.
    parity: ParityReport | None = None
    # Its replicas on a runtime that runs several (Swarm, console/core/replicas.py); None: one.
    replicas: ReplicaStatus | None = None

    def stale_parts(self, now: float) -> list[PartReading]:
        """The parts that have not answered for longer than their `stale_after`. Nothing runs in
        an empty or stopped colour, so only Docker is asked about it: the silence of its other
        parts (a metrics endpoint of a container that is gone) is not news."""
        down = self.state in (SlotState.EMPTY, SlotState.STOPPED)
        return [
            reading
            for reading in self.readings
            if reading.stale(now) and (reading.part == "docker" or not down)
        ]

    def is_stale(self, part: str, now: float) -> bool:
        return any(r.part == part for r in self.stale_parts(now))


# A running container's slot state the agent composed before the live colour changed.
_RUNNING_STATES = (SlotState.STARTING, SlotState.SYNCING, SlotState.READY, SlotState.LIVE)


def agreeing_with_live(status: SlotStatus, live: Color | None) -> SlotStatus:
    """`status` as the agent composes it under `live` (slot_watch._running_state): a running
    slot is LIVE exactly when its colour is live. The agent publishes up to a tick after a switch,
    so every reader composes with the live colour from the same read, and no reading shows
    `live = X` beside slot X "ready" (or the old colour still "live")."""
    if status.state not in _RUNNING_STATES:
        return status  # empty, stopped or failed: the same whichever colour is live
    if status.color == live:
        state = SlotState.LIVE
    elif status.state != SlotState.LIVE:
        return status
    elif status.ready:
        state = SlotState.READY
    else:
        state = SlotState.SYNCING if status.height is not None else SlotState.STARTING
    return status if state == status.state else replace(status, state=state)


@dataclass(frozen=True, slots=True)
class LockHolder:
    user: str
    action: str
    since: float
    pid: int
    ssh_client: str | None = None
    host: str = ""

    def describe(self) -> str:
        from_where = f" from {self.ssh_client}" if self.ssh_client else ""
        when = time.strftime("%H:%M:%S", time.localtime(self.since))
        # Another host's holder (a shared store) is named with its host: its pid is not ours.
        on = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return (
            f"{self.user}{from_where} (pid {self.pid}{on}) is running '{self.action}' since {when}"
        )


@dataclass(frozen=True, slots=True)
class AgentInfo:
    running: bool
    pid: int | None = None
    since: float | None = None
    heartbeat: float | None = None
    host: str = ""  # where the leading agent runs (a shared store); "" = this host
    standbys: tuple[str, ...] = ()  # agents standing by (a shared store): "pid P on HOST"

    def pid_text(self) -> str:
        """ "pid 123", or "pid 123 on HOST" for another host's agent (a shared store)."""
        on = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{on}"


@dataclass(frozen=True, slots=True)
class Canary:
    """`percent` % of clients (1-99, sticky per client) go to `color`, the idle colour."""

    color: Color
    percent: int

    def describe(self) -> str:
        return f"{self.percent} % of clients to {self.color}"

    def as_dict(self) -> dict[str, object]:
        """How `status --json`, the edges' view and the stored edge intent write it."""
        return {"color": self.color, "percent": self.percent}


@dataclass(frozen=True, slots=True)
class Status:
    service: str
    live: Color | None
    previous: Color | None
    slots: dict[Color, SlotStatus]
    agent: AgentInfo
    lock: LockHolder | None
    read_only: bool = False
    at: float = 0.0
    proxy: PartReading | None = None  # the agent's per-tick read of the proxy's live colour
    canary: Canary | None = None  # the sticky share of clients sent to the idle colour
    holds: Holds = field(default_factory=lambda: NO_HOLDS)  # freeze, maintenance (core/holds)
    sessions: MigrationView | None = None  # a session-kept switch in progress ([sessions])
    edges: EdgesView | None = None  # several edge proxies ([[proxy.edges]]): each one's colour


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One audit-log row: deploys, milestones, switches, rollbacks, failures, drift."""

    id: int
    at: float
    kind: str  # deploy, milestone, ready, switch, rollback, failure, drift, agent, …
    level: EventLevel
    text: str
    actor: str
    color: Color | None = None
    deployment_id: int | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: int
    color: Color
    image: str
    version: str
    policy: SwitchPolicy
    phase: Phase
    actor: str
    created_at: float
    phases: dict[str, float] = field(default_factory=dict)  # phase → first time reached
    outcome: str | None = None
    env: dict[str, str] = field(
        default_factory=dict
    )  # operator overrides (values redacted on show)
    target_height: int | None = None
    start_height: int | None = None
    cutover_ms: float | None = None


@dataclass(frozen=True, slots=True)
class SpeedPoint:
    """One point of a colour's speed/ETA history, for the sparkline."""

    at: float
    speed: float | None
    eta_seconds: float | None


@dataclass(frozen=True, slots=True)
class SwitchPlan:
    """What `switch` would do now, for the confirmation modal: 'Switch blue → green (v1.5.0)?'."""

    from_color: Color | None
    to_color: Color
    to_image: str | None
    to_version: str | None
    gate_met: bool
    conditions: tuple[Condition, ...]
    blocked_reason: str | None = None  # set when switching is impossible even with force
    parity: ParityReport | None = None  # the agent's latest; the switch samples it again


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    from_color: Color | None
    to_color: Color | None
    to_state: SlotState | None
    to_version: str | None
    lag: int | None
    behind_live: bool
    warning: str | None = None
    blocked_reason: str | None = None
