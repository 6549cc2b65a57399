"""Retiring the previous colour once it is no longer needed for rollback, and no longer serving.

`switch.keep_previous_seconds` after a switch (and once the post-switch watch is over) the
previous colour may be stopped — but a stop with requests still in flight or websockets still open
cuts them off, which is the very thing blue/green exists to avoid. So it waits until the proxy
counts 0 open requests (websockets included) on that colour, or until
`switch.drain_timeout_seconds` more have passed, and the event says which. A proxy that cannot
count open requests (no traffic figures) retires by time alone, as before, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from console.core.config.schema import SwitchConfig
from console.core.contracts.runtime import Runtime
from console.core.contracts.store import OperationLock
from console.core.lock import LockHeld
from console.core.model import Actor, Color, SlotStatus
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
    ) -> None:
        self.config = config
        self.store = store
        self.lock = lock
        self.runtime = runtime  # the container engine, opened on first use
        self.containers = containers  # each colour's container name
        self.actor = actor

    def tick(self, now: float, statuses: dict[Color, SlotStatus]) -> None:
        store, switch = self.store, self.config
        keep = switch.keep_previous_seconds
        switched_at = store.switched_at()
        live, previous = store.live(), store.previous()
        if keep <= 0 or not previous or previous == live or switched_at is None:
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
