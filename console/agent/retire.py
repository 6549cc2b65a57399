"""Retiring the previous colour once it is no longer needed for rollback, and no longer serving.

`switch.keep_previous_seconds` after a switch (and once the post-switch watch is over) the
previous colour may be stopped — but a stop with requests still in flight or websockets still open
cuts them off, which is the very thing blue/green exists to avoid. So it waits until the proxy
counts 0 open requests (websockets included) on that colour, or until
`switch.drain_timeout_seconds` more have passed, and the event says which. A proxy that cannot
count open requests (no traffic figures) retires by time alone, as before, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from console.core.config.schema import SwitchConfig
from console.core.contracts.notifier import Notifier
from console.core.contracts.runtime import Runtime
from console.core.contracts.store import OperationLock
from console.core.lock import LockHeld
from console.core.measures.sessions import Migration
from console.core.model import Actor, Color, OperationEvent, SlotStatus
from console.core.store.sessions import counts, migration, set_migration
from console.core.store.store import Store


@dataclass(frozen=True, slots=True)
class RetireDecision:
    """Whether to stop the previous colour now, and the sentence the event records."""

    stop: bool
    why: str = ""


def decide(
    now: float,
    keep_until: float,
    drain_timeout: float,
    open_requests: int | None,
    websockets: int | None,
) -> RetireDecision:
    """Pure policy: `keep_until` is the switch time plus keep_previous_seconds."""
    if now < keep_until:
        return RetireDecision(False)
    if open_requests is None:
        return RetireDecision(True, "the proxy gives no open-request count, so it was not drained")
    if open_requests <= 0:
        return RetireDecision(True, "drained: 0 open requests")
    if now >= keep_until + drain_timeout:
        ws = f", {websockets} websocket{'s' if websockets != 1 else ''}" if websockets else ""
        return RetireDecision(True, f"drain timeout with {open_requests} open{ws}")
    return RetireDecision(False)


def decide_sessions(now: float, kept: Migration, left: int | None) -> RetireDecision:
    """Pure policy for a session-kept switch ([sessions]): `left` sessions on the old colour
    (None: not counted). The timeout holds in every mode; `auto` also retires at zero."""
    if now >= kept.deadline:
        count = (
            "uncounted sessions" if left is None else f"{left} session{'s' if left != 1 else ''}"
        )
        return RetireDecision(True, f"sessions timeout with {count} left")
    if kept.retire == "auto" and left == 0:
        return RetireDecision(True, "0 sessions left")
    return RetireDecision(False)


@dataclass(frozen=True, slots=True)
class SessionRetireParts:
    """What retiring after a session-kept switch needs (agent/loop.py binds them)."""

    retire: Callable[[str], Iterable[OperationEvent]]  # ops/sessions.retire_locked, bound
    notifier: Notifier
    service: str


class Retirement:
    """Each tick: stop the previous colour when `decide` says so (under the operation lock)."""

    def __init__(
        self,
        config: SwitchConfig,
        store: Store,
        lock: OperationLock,
        runtime: Callable[[], Runtime],
        containers: Mapping[Color, str],
        actor: Actor,
        sessions: SessionRetireParts | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.lock = lock
        self.runtime = runtime  # the container engine, opened on first use
        self.containers = containers  # each colour's container name
        self.actor = actor
        self.sessions = sessions  # [sessions]: the old colour goes when its sessions have ended

    def tick(self, now: float, statuses: dict[Color, SlotStatus]) -> None:
        kept = migration(self.store) if self.sessions is not None else None
        if kept is not None:
            self._after_sessions(now, kept, statuses)
            return
        store, switch = self.store, self.config
        keep = switch.keep_previous_seconds
        if keep <= 0:  # the previous colour runs until the next deploy: nothing to read
            return
        switched_at = store.switched_at()
        live, previous = store.live(), store.previous()
        if not previous or previous == live or switched_at is None:
            return
        if store.watch() is not None or statuses[previous].container_state != "running":
            return
        traffic = statuses[previous].traffic
        decision = decide(
            now,
            switched_at + keep,
            switch.drain_timeout_seconds,
            traffic.open_connections if traffic is not None else None,
            traffic.websockets if traffic is not None else None,
        )
        if not decision.stop:
            return
        try:
            with self.lock.acquire("retire previous colour", self.actor):
                self.runtime().stop(self.containers[previous])
        except LockHeld:
            return  # an operation runs: try again next tick
        store.record_event(
            "retire",
            f"Stopped {previous} after keeping it {keep:.0f} s for rollback ({decision.why}).",
            "info",
            str(self.actor),
            previous,
        )

    def _after_sessions(
        self, now: float, kept: Migration, statuses: dict[Color, SlotStatus]
    ) -> None:
        """A session-kept switch: retire the old colour by `decide_sessions` (after the post-switch
        watch, which needs it for rollback), or say once that an operator may confirm now."""
        assert self.sessions is not None
        store = self.store
        if store.live() != kept.new:
            set_migration(store, None)  # a move elsewhere ended it (ops/sessions.after_route)
            return
        if store.watch() is not None or statuses[kept.old].container_state != "running":
            return
        seen = counts(store)
        left = seen.on(kept.old) if seen else None
        decision = decide_sessions(now, kept, left)
        if not decision.stop:
            if kept.retire == "confirm" and left == 0 and not kept.zero_said_at:
                text = (
                    f"{kept.old} has no sessions left: stop it with `bluegreen sessions retire` "
                    "(rollback stays instant until then)."
                )
                store.record_event("sessions", text, "info", str(self.actor), kept.old)
                self.sessions.notifier.send("sessions", f"{self.sessions.service}: {text}", "info")
                set_migration(store, replace(kept, zero_said_at=now))
            return
        try:
            with self.lock.acquire("retire previous colour", self.actor):
                for _event in self.sessions.retire(decision.why):
                    pass  # retire_locked records the event and notifies
        except LockHeld:
            return  # an operation runs: try again next tick
