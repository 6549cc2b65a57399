"""The facade every client uses: the TUI and the CLI call `Console`, never drivers directly.

Read methods read the store (what the agent published) so every console on an installation sees the
same state. Mutating methods are generators of `OperationEvent`s, run under the operator lock, and
refuse in read-only mode — enforced here, not by hiding keys.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator

from console.core.actor import current_actor
from console.core.holds import Holds
from console.core.installation import Installation
from console.core.measures.sessions import MigrationView
from console.core.model import (
    COLORS,
    Color,
    EventRecord,
    OperationEvent,
    Outcome,
    Progress,
    RollbackPlan,
    Sample,
    SlotStatus,
    SpeedPoint,
    Status,
    SwitchPlan,
    SwitchPolicy,
)
from console.core.ops import canary as canary_op
from console.core.ops import deploy as deploy_op
from console.core.ops import holds as holds_op
from console.core.ops import named_rollback, retention, switching
from console.core.ops import sessions as sessions_op
from console.core.ops.agent_process import ensure_agent
from console.core.ops.operation import OperationRefused, ReadOnlyError, before_any_change
from console.core.redact import sanitize_log_line

__all__ = ["Console", "OperationRefused", "ReadOnlyError"]

# The agent writes a heartbeat and its statuses at every full tick (an idle service's at least
# every half of this: console/agent/idle_pace.py); older than this and its status is stale.
AGENT_STALE_SECONDS = 10.0


class Console:
    """One installation's console. `read_only=True` refuses every mutation."""

    def __init__(self, installation: Installation, read_only: bool = False) -> None:
        self.installation = installation
        self.config = installation.config
        self.read_only = read_only

    # ── reads (cheap: the store; safe from any thread) ──
    def status(self) -> Status:
        store = self.installation.store
        now = time.time()
        lease = self.installation.agent_lease.info()
        heartbeat = store.heartbeats().get("agent")
        agent = dataclasses.replace(lease, heartbeat=heartbeat)
        live, previous, published = store.snapshot()  # one read: live and slots agree
        slots: dict[Color, SlotStatus] = {}
        for color in COLORS:
            status = published.get(color) or SlotStatus(color)
            if status.updated_at and (
                not agent.running or now - status.updated_at > AGENT_STALE_SECONDS
            ):
                age = time.strftime("%H:%M:%S", time.localtime(status.updated_at))
                why = (
                    "the agent is not running" if not agent.running else "the agent is not updating"
                )
                status = _stale(
                    status, f"Status from {age}: {why} (start it with `bluegreen agent`)."
                )
            else:
                status = _with_stale_parts(status, now)
            slots[color] = status
        return Status(
            service=self.config.service,
            live=live,
            previous=previous,
            slots=slots,
            agent=agent,
            lock=self.installation.lock.holder(),
            read_only=self.read_only,
            at=now,
            proxy=store.proxy_reading(),
            canary=store.canary(),
            holds=Holds(store.freeze(now), store.maintenance()),
            sessions=sessions_op.view(store),
            edges=store.edges_view() if self.config.proxy.edges else None,
        )

    def events(self, after_id: int = 0, limit: int = 200) -> list[EventRecord]:
        return self.installation.store.events(limit=limit, after_id=after_id)

    @property
    def notices_changes(self) -> bool:
        """True when the store tells of commits (shared), so a poll may wait for one."""
        return self.installation.config.store.shared

    def wait_for_change(self, timeout: float) -> bool:
        """Until anyone commits to the store, or `timeout` s (what a poll waits between reads:
        a shared store wakes it at once, on every host)."""
        return self.installation.store.wait_for_change(timeout)

    def samples(self, color: Color, since: float) -> list[Sample]:
        return self.installation.store.samples(color, since)

    def speed_history(self, color: Color, since: float) -> list[SpeedPoint]:
        store = self.installation.store
        etas = {point.at: point.value for point in store.metrics(f"eta:{color}", since)}
        return [
            SpeedPoint(
                point.at, point.value, etas.get(point.at) if etas.get(point.at, -1) >= 0 else None
            )
            for point in store.metrics(f"speed:{color}", since)
        ]

    def recent_images(self, limit: int = 10) -> list[str]:
        return self.installation.store.recent_images(limit)

    def plan_switch(self) -> SwitchPlan:
        with before_any_change("switch"):
            return switching.plan_switch(self.installation)

    def plan_rollback(self) -> RollbackPlan:
        with before_any_change("rollback"):
            return switching.plan_rollback(self.installation)

    # ── logs (Docker; lines are sanitized and redacted plain text) ──
    def log_lines(self, color: Color, tail: int = 300) -> list[str]:
        container = self.config.slot(color).container
        raw = self.installation.runtime.logs(container, tail=tail)
        return [sanitize_log_line(line, self.installation.redactor) for line in raw]

    def follow_logs(self, color: Color, stop: threading.Event, tail: int = 200) -> Iterator[str]:
        container = self.config.slot(color).container
        redactor = self.installation.redactor
        for raw in self.installation.runtime.follow_logs(container, stop, tail=tail):
            yield sanitize_log_line(raw, redactor)

    # ── mutations (operator lock; refused when read-only) ──
    def deploy(
        self,
        image: str,
        env: dict[str, str] | None = None,
        policy: SwitchPolicy | None = None,
        image_tar: str | None = None,
    ) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("deploy")
        outcome_ok = False
        for event in deploy_op.deploy(
            self.installation, image, current_actor(), env, policy, image_tar=image_tar
        ):
            outcome_ok = isinstance(event, Outcome) and event.ok
            yield event
        if not outcome_ok:
            return  # nothing new to watch
        try:
            started, pid = ensure_agent(self.installation)
        except RuntimeError as exc:
            yield Progress(str(exc), "error")
            return
        if started:
            yield Progress(f"Started the agent (pid {pid}); it keeps watching if you disconnect.")

    def switch(
        self, force: bool = False, keep_sessions: bool | None = None
    ) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("switch")
        return switching.switch(
            self.installation, current_actor(), force, self.read_only, keep_sessions=keep_sessions
        )

    def kept_sessions_text(self, plan: SwitchPlan, keep: bool | None) -> str:
        """What a switch with `keep` would keep, for its confirmation ("" = it moves everyone)."""
        kept, _refusal = sessions_op.kept_for_switch(self.installation, plan, keep)
        return sessions_op.describe_kept(self.installation, kept) if kept else ""

    def sessions(self) -> MigrationView | None:
        """A session-kept switch in progress (sessions per colour), or None."""
        return sessions_op.view(self.installation.store)

    def sessions_retire(self) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("sessions retire")
        return sessions_op.retire(self.installation, current_actor(), self.read_only)

    def rollback(self) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("rollback")
        return switching.rollback(self.installation, current_actor(), read_only=self.read_only)

    # ── named rollback (issue 26.5): retained images of the service ──
    def retained_versions(self) -> list[str]:
        return list(dict.fromkeys(retention.retained_versions(self.installation)))

    def plan_named_rollback(self, version: str) -> named_rollback.NamedRollbackPlan:
        return named_rollback.plan_named_rollback(self.installation, version)

    def rollback_to(self, plan: named_rollback.NamedRollbackPlan) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("rollback")
        return named_rollback.rollback_to(self.installation, current_actor(), plan)

    def canary(self, percent: int, force: bool = False) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("canary")
        return canary_op.start(self.installation, current_actor(), percent, force)

    def canary_abort(self) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("canary abort")
        return canary_op.abort(self.installation, current_actor())

    def canary_promote(self, force: bool = False) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("canary promote")
        return canary_op.promote(self.installation, current_actor(), force)

    def freeze(self, message: str, until: float | None = None) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("freeze")
        return holds_op.freeze(self.installation, current_actor(), message, until)

    def unfreeze(self) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("unfreeze")
        return holds_op.unfreeze(self.installation, current_actor())

    def maintenance_on(
        self,
        message: str | None = None,
        page_html: str | None = None,
        page_name: str = "",
        retry_after: int | None = None,
    ) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("maintenance on")
        return holds_op.maintenance_on(
            self.installation, current_actor(), message, page_html, page_name, retry_after
        )

    def maintenance_off(self) -> Iterator[OperationEvent]:
        if self.read_only:
            raise ReadOnlyError("maintenance off")
        return holds_op.maintenance_off(self.installation, current_actor())

    def close(self) -> None:
        self.installation.close()


def _stale(status: SlotStatus, reason: str) -> SlotStatus:
    from dataclasses import replace

    return replace(status, reason=reason)


def _with_stale_parts(status: SlotStatus, now: float) -> SlotStatus:
    """Name each part that has stopped answering, with its age by this client's clock: the values
    it fed are the last ones seen, never fresh ("Docker not answering for 12 s")."""
    stale = status.stale_parts(now)
    if not stale:
        return status
    said = "; ".join(reading.describe(now) for reading in stale)
    values = "values as last seen"
    return _stale(status, f"{said} ({values})." + (f" {status.reason}" if status.reason else ""))
