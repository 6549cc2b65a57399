"""`rollback --to VERSION`: back to a named older version whose image is still on this host.

Three cases, planned before anything changes (`plan_named_rollback`):
- the previous colour still runs that version: the instant rollback, audited as one to VERSION;
- otherwise the retained image is deployed into the idle colour (`deploy_for_rollback`, with the
  configured environment, switch policy `never` so the agent does not switch it as an ordinary
  deploy), the caller waits while it catches up (the CLI's deploy-and-wait path),
  and `switch_for_rollback` switches through the normal gate, verify and read-back — recorded as
  a rollback to VERSION with its actor, notified as one, followed by the `[image] keep` pruning;
- the idle colour is already re-indexing (or ready with) that version from an earlier attempt:
  the wait resumes on it instead of starting over.
A VERSION with no image here is refused with the versions that are retained: a rollback never
pulls (the registry may be the very thing that is broken).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from console.core.durations import duration_text
from console.core.installation import Installation, image_version
from console.core.lock import LockHeld
from console.core.model import (
    Actor,
    Color,
    OperationEvent,
    Outcome,
    Phase,
    Progress,
    SlotState,
    SlotStatus,
    SwitchPolicy,
    other,
)
from console.core.ops import deploy as deploy_op
from console.core.ops import switching
from console.core.ops.agent_process import ensure_agent
from console.core.ops.operation import mutating
from console.core.ops.retention import prune_after_switch, retained

# A deployment in one of these phases will never become ready: the wait ends.
GIVEN_UP = (Phase.FAILED, Phase.CANCELLED, Phase.ROLLED_BACK)


@dataclass(frozen=True, slots=True)
class NamedRollbackPlan:
    service: str
    version: str
    ref: str
    from_color: Color | None  # live now
    to_color: Color | None  # where VERSION will serve from
    instant: bool = False  # the previous colour runs it: no deploy, no wait
    resume_deployment: int | None = None  # the idle colour already runs this ref (not ended)
    blocked_reason: str | None = None

    def question(self) -> str:
        """The confirmation, naming the service, version and colours."""
        arrow = f"{self.from_color} → {self.to_color}"
        if self.instant:
            still = f"{self.to_color} still runs it"
            return f"Roll back {self.service} to {self.version}: {arrow} ({still})?"
        if self.resume_deployment is not None:
            return (
                f"Roll back {self.service} to {self.version}: wait for {self.to_color} (already "
                f"starting it, deployment #{self.resume_deployment}) to catch up, then switch "
                f"{arrow}?"
            )
        return (
            f"Roll back {self.service} to {self.version}: deploy {self.ref} into "
            f"{self.to_color}, wait until it has caught up, then switch {arrow}?"
        )

    @property
    def note(self) -> str:
        """What the rollback's audit line adds to the switch's own sentence."""
        return f"A rollback to {self.version} ({self.ref})."


def plan_named_rollback(inst: Installation, version: str) -> NamedRollbackPlan:
    """What `rollback --to VERSION` would do now; `blocked_reason` when it cannot."""
    store = inst.store
    service = inst.config.service
    ref = inst.resolve_image(version)  # ValueError for a reference that cannot be one
    name = image_version(ref)
    live, previous = store.live(), store.previous()

    def blocked(reason: str) -> NamedRollbackPlan:
        return NamedRollbackPlan(service, name, ref, live, None, blocked_reason=reason)

    if live is None:
        return blocked("nothing is live yet, so there is nothing to roll back from.")
    images = retained(inst)
    if not any(image.ref == ref for image in images):
        versions = ", ".join(dict.fromkeys(image_version(image.ref) for image in images))
        listed = f"the retained versions are {versions}" if versions else "none is retained"
        return blocked(
            f"{service} has no image {ref} on this host (a rollback never pulls); {listed}."
        )
    if _image_of(inst, live) == ref:
        return blocked(f"{name} is already live in {live} ({ref}).")
    idle = other(live)
    if idle == previous and _image_of(inst, idle) == ref:
        instant = switching.plan_rollback(inst)
        if instant.blocked_reason is None and instant.to_color == idle:
            return NamedRollbackPlan(service, name, ref, live, idle, instant=True)
    # A freeze holds releases, never a way back: this deploy and switch pass it (their lock
    # names say "rollback"), as the instant rollback does.
    active = store.active_deployment(idle)
    resume = active.id if active is not None and active.image == ref else None
    return NamedRollbackPlan(service, name, ref, live, idle, resume_deployment=resume)


def _image_of(inst: Installation, color: Color) -> str | None:
    """The image `color` serves or was last given (the store's word: the agent keeps it true)."""
    status = inst.store.slot_status(color)
    if status is not None and status.image:
        return status.image
    deployment = inst.store.latest_deployment(color)
    return deployment.image if deployment else None


def rollback_instant(
    inst: Installation, actor: Actor, plan: NamedRollbackPlan, read_only: bool = False
) -> Iterator[OperationEvent]:
    """The previous colour runs VERSION: the plain rollback, audited as one to VERSION."""
    return switching.rollback(inst, actor, read_only=read_only, note=plan.note)


def deploy_for_rollback(
    inst: Installation, actor: Actor, plan: NamedRollbackPlan, read_only: bool = False
) -> Iterator[OperationEvent]:
    """Start the retained image in the idle colour; nothing switches until it is ready."""
    yield Progress(
        f"Rolling back {plan.service} to {plan.version}: {plan.ref} re-starts in the idle colour."
    )
    yield from deploy_op.deploy(
        inst,
        plan.ref,
        actor,
        None,  # the configured environment: stored overrides are redacted, never replayed
        SwitchPolicy.NEVER,  # the rollback switches it, audited as such — not the agent's policy
        read_only=read_only,
        action="rollback to",  # a way back: a freeze lets it through
    )


def switch_for_rollback(
    inst: Installation,
    actor: Actor,
    plan: NamedRollbackPlan,
    deployment_id: int,
    force: bool = False,
    read_only: bool = False,
) -> Iterator[OperationEvent]:
    """The switch to the rolled-back version: the same gate, verify and read-back as `switch`,
    refused if the idle colour no longer runs that deployment (someone deployed meanwhile)."""
    color = plan.to_color
    active = inst.store.active_deployment(color) if color else None
    if color is None or active is None or active.id != deployment_id:
        yield Outcome(
            False,
            f"Rollback to {plan.version} refused: {color or 'the idle colour'} no longer runs "
            f"deployment #{deployment_id} ({plan.ref}); nothing was switched.",
        )
        return
    ok = False
    for event in switching.switch(inst, actor, force, read_only, kind="rollback", note=plan.note):
        ok = isinstance(event, Outcome) and event.ok
        yield event
    if not ok:
        return
    try:  # the switch has released its lock: retention takes it again, as `prune` would
        with mutating(inst, "prune", actor, read_only):
            yield from prune_after_switch(inst, actor)
    except LockHeld as exc:
        yield Progress(f"Old images were not pruned now: {exc}", "warning")


def rollback_to(
    inst: Installation,
    actor: Actor,
    plan: NamedRollbackPlan,
    read_only: bool = False,
    poll_seconds: float = 1.0,
) -> Iterator[OperationEvent]:
    """The whole named rollback as one stream of events, for a caller with no wait loop of its
    own (the console): instant, or deploy (unless resuming), wait — a step each poll naming the
    progress and ETA — then the switch. Closing the stream stops only the waiting."""
    if plan.instant:
        yield from rollback_instant(inst, actor, plan, read_only)
        return
    deployment_id = plan.resume_deployment
    if deployment_id is None:
        for event in deploy_for_rollback(inst, actor, plan, read_only):
            if isinstance(event, Outcome):
                if not event.ok:
                    yield event
                    return
                event = Progress(event.text)
            yield event
        deployment_id = inst.store.deployments(limit=1)[0].id
        try:
            started, pid = ensure_agent(inst)  # the agent judges the gate, as after `deploy`
        except RuntimeError as exc:
            yield Outcome(False, str(exc))
            return
        if started:
            yield Progress(f"Started the agent (pid {pid}); it keeps watching if you disconnect.")
    failure = yield from wait_until_ready(inst, plan, deployment_id, poll_seconds)
    if failure:
        yield Outcome(False, failure)
        return
    yield from switch_for_rollback(inst, actor, plan, deployment_id, read_only=read_only)


def wait_until_ready(
    inst: Installation, plan: NamedRollbackPlan, deployment_id: int, poll_seconds: float
) -> Generator[OperationEvent, None, str | None]:
    """A step each poll while the idle colour catches up ("blue catches up on v0 before the
    switch: 1,200 / 3,000 (40 %), ETA 1m05s"); None once it is ready, else why it never will be."""
    color = plan.to_color
    if color is None:
        return "there is no idle colour to roll back into."
    while True:
        deployment = inst.store.deployment(deployment_id)
        if deployment is None:
            return (
                f"Rollback to {plan.version}: deployment #{deployment_id} is gone from the store."
            )
        if deployment.phase in GIVEN_UP:
            why = str(deployment.outcome or deployment.phase).rstrip(".")
            return f"Rollback to {plan.version} failed in {color}: {why}."
        status = inst.store.slot_status(color)
        if status is not None and status.deployment_id == deployment_id:
            if status.state in (SlotState.READY, SlotState.LIVE):
                return None
            if status.state == SlotState.FAILED:
                why = str(status.reason or "it failed").rstrip(".")
                return f"Rollback to {plan.version} failed in {color}: {why}."
        yield Progress(catch_up_line(color, plan.version, status, deployment_id))
        time.sleep(poll_seconds)


def catch_up_line(color: Color, version: str, status: SlotStatus | None, deployment_id: int) -> str:
    """What the console's action line says while the rolled-back version catches up."""
    said = f"{color} catches up on {version} before the switch"
    if status is None or status.deployment_id != deployment_id:
        return f"{said}: starting."
    if status.at_head:
        return f"{said}: at the head, waiting for the gate ({status.state})."
    if status.height is None:
        return f"{said}: {status.state}, no height yet."
    share = f" ({status.progress * 100:.0f} %)" if status.progress is not None else ""
    head = f"{status.head:,}" if status.head is not None else "?"
    eta = duration_text(status.eta_seconds)
    return f"{said}: {status.height:,} / {head}{share}, ETA {eta}."
