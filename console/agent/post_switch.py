"""After a switch: watch the new live colour through `switch.watch_seconds` and roll it back when
it fails there (its container stops, its health fails, or it restarts) three ticks in a row.

The watch window is opened by the switch (the store's `watch`); this closes it once it has passed,
with an event. The rollback runs as the agent under the operator lock, taken without waiting: an
operation in progress postpones it to a later tick. Traffic figures are judged separately
(analysis_watch.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from console.core.contracts.store import OperationLock
from console.core.lock import LockHeld
from console.core.model import Actor, Color, OperationEvent, SlotStatus
from console.core.store.store import Store

_FAILED_TICKS_BEFORE_ROLLBACK = 3  # one bad health probe is noise; three in a row is a failure


class PostSwitchWatch:
    def __init__(
        self,
        store: Store,
        lock: OperationLock,
        rollback: Callable[[str], Iterable[OperationEvent]],
        *,
        auto_rollback: bool,
        actor: Actor,
        log: Callable[[str], None],
    ) -> None:
        """`rollback`: `switching.rollback_locked` bound to the installation and the agent by
        the agent loop (the caller holds the lock). `auto_rollback`: switch.auto_rollback."""
        self.store = store
        self.lock = lock
        self.rollback = rollback
        self.auto_rollback = auto_rollback
        self.actor = actor
        self.log = log
        self.bad_ticks = 0

    def tick(
        self,
        now: float,
        statuses: Mapping[Color, SlotStatus],
        previous: Mapping[Color, SlotStatus],
    ) -> None:
        """Each tick, with this tick's statuses and the previous tick's."""
        watch = self.store.watch()
        if watch is None:
            return
        color, until = watch
        live = self.store.live()
        if live != color or now > until:
            if now > until and live == color:
                self.store.record_event(
                    "watch",
                    f"{color} passed its post-switch watch.",
                    "success",
                    str(self.actor),
                    color,
                )
            self.store.set_watch(color, 0.0)
            self.bad_ticks = 0
            return
        status = statuses[color]
        before = previous.get(color)
        bad = (
            status.container_state != "running"
            or status.healthy is False
            or (
                status.restart_count > 0
                and before is not None
                and status.restart_count > before.restart_count
            )
        )
        self.bad_ticks = self.bad_ticks + 1 if bad else 0
        if self.bad_ticks < _FAILED_TICKS_BEFORE_ROLLBACK or not self.auto_rollback:
            return
        reason = (
            f"{color} failed within its post-switch window: container "
            f"{status.container_state}, health "
            f"{'failing' if status.healthy is False else 'unknown'}."
        )
        try:
            with self.lock.acquire("automatic rollback", self.actor):
                for event in self.rollback(reason):
                    self.log(f"auto rollback: {event.text}")
        except LockHeld as exc:
            self.log(f"auto rollback postponed: {exc}")
        self.bad_ticks = 0
