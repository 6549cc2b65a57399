"""Each tick, after the colours are composed: advance each deployment's phase, notify what an
operator wants to hear about it (indexing, milestones, the ETA, ready, a failure) and apply its
switch policy (`auto`: switch as soon as it is ready)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from console.agent.release_hooks import PostReadyHooks
from console.core.config.schema import NotifyConfig
from console.core.contracts.notifier import Notifier
from console.core.gate.tracking import CatchupTracker
from console.core.lock import LockHeld
from console.core.model import (
    Actor,
    Color,
    OperationEvent,
    Outcome,
    Phase,
    SlotState,
    SlotStatus,
    SwitchPolicy,
)
from console.core.ops.operation import FrozenError
from console.core.store.store import Store


class DeploymentPhases:
    def __init__(
        self,
        config: NotifyConfig,
        store: Store,
        notifier: Notifier,
        switch: Callable[[], Iterable[OperationEvent]],
        *,
        service: str,
        actor: Actor,
        log: Callable[[str], None],
        post_ready: PostReadyHooks | None = None,
    ) -> None:
        """`switch`: `switching.switch` bound to the installation and the agent by the agent
        loop (it takes the operator lock itself); `post_ready`: the [[hooks]] run once a
        deployment is ready, which the policy's switch waits for."""
        self.config = config
        self.store = store
        self.notifier = notifier
        self.switch = switch
        self.service = service
        self.actor = actor
        self.log = log
        self.frozen_said = ""
        self.eta_warned: set[int] = set()
        self.post_ready = post_ready or PostReadyHooks(False, lambda _d: None, bool, log)

    def advance(
        self,
        color: Color,
        status: SlotStatus,
        live: Color | None,
        before: SlotStatus | None,
        tracker: CatchupTracker,
    ) -> None:
        """`before`: the colour's status at the previous tick; `tracker`: its catch-up."""
        store, notify, actor = self.store, self.notifier, str(self.actor)
        deployment = store.active_deployment(color)
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
        service = self.service
        if status.state == SlotState.FAILED:
            if before is None or before.state != SlotState.FAILED:
                text = f"{color} ({deployment.version}) failed: {status.reason}"
                store.record_event("failure", text, "error", actor, color, deployment.id)
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
            for mark in tracker.crossed_milestones(self.config.every_blocks):
                text = f"{color} ({deployment.version}) passed height {mark:,}."
                store.record_event("milestone", text, "info", actor, color, deployment.id)
                notify.send("milestone", f"{service}: {text}")
        eta = status.eta_seconds
        if (
            eta is not None
            and 0 < eta <= self.config.eta_warning_seconds
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
            store.record_event("ready", text, "success", actor, color, deployment.id)
            notify.send("ready", f"{service}: {text}")
        if status.state == SlotState.READY:
            self.post_ready.begin(deployment)  # once per deployment
        if (
            status.state == SlotState.READY
            and deployment.policy == SwitchPolicy.AUTO
            and live != color
            and self.post_ready.finished(deployment.id)
        ):
            self._auto_switch(color)

    def _auto_switch(self, color: Color) -> None:
        try:
            for event in self.switch():
                if isinstance(event, Outcome):
                    self.log(f"auto switch to {color}: {event.text}")
        except LockHeld as exc:
            self.log(f"auto switch to {color} postponed: {exc}")
        except FrozenError as exc:  # it switches once the freeze is lifted; said once
            if str(exc) != self.frozen_said:
                self.log(f"auto switch to {color} held by the freeze: {exc}")
            self.frozen_said = str(exc)
