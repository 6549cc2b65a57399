"""Switch and roll back: move live traffic between colours through the proxy, then record it.

Order matters for crash safety: the proxy is changed (and verified) first, the store second. A
crash between the two leaves the store behind the proxy, which `reconcile` resolves in favour of
the proxy — what traffic actually sees — and records as drift.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Iterator

from console.core.config.hooks import Stage
from console.core.contracts.proxy import ProxyError, ReadBack, SwitchResult
from console.core.contracts.sessions import KeptSessions
from console.core.fence import LeaseLost
from console.core.fsutil import StateDirError
from console.core.gate.readiness import unmet_summary
from console.core.installation import Installation
from console.core.model import (
    Actor,
    Color,
    Condition,
    OperationEvent,
    Outcome,
    Phase,
    Progress,
    RollbackPlan,
    SlotState,
    SlotStatus,
    SwitchPlan,
    other,
)
from console.core.ops.hook_stages import deployment_stage, then_post_stage
from console.core.ops.operation import describe_failure, mutating
from console.core.ops.reconcile import reconcile
from console.core.ops.retention import prune_after_switch
from console.core.ops.sessions import after_route, keep_before_switch, kept_for_switch
from console.core.ops.switch_parity import check_parity_at_switch
from console.core.timeouts import PROXY_READ_BACK_INTERVAL_SECONDS, PROXY_SETTLE_SECONDS


def status_is_fresh(inst: Installation, status: SlotStatus | None, now: float) -> bool:
    window = max(5.0, 5 * inst.config.readiness.sample_interval_seconds)
    return status is not None and now - status.updated_at <= window


def plan_switch(inst: Installation, now: float | None = None, way_back: bool = False) -> SwitchPlan:
    now = time.time() if now is None else now
    live = inst.store.live()
    target: Color = other(live) if live else "blue"
    status = inst.store.slot_status(target)
    deployment = inst.store.active_deployment(target) or inst.store.latest_deployment(target)
    conditions: tuple[Condition, ...] = status.conditions if status else ()
    blocked = None
    if status is None or status.state in (SlotState.EMPTY, SlotState.STOPPED):
        blocked = f"{target} has no running container: deploy a version into it first."
    elif status.container_state not in (None, "running"):
        blocked = f"{target}'s container is {status.container_state}: it cannot take traffic."
    # Said before any question (mutating refuses it anyway); a way back (a named rollback's
    # switch) passes a freeze.
    held = None if way_back else inst.store.freeze(now)
    if held is not None:
        lift = "Rollback stays open; `bluegreen unfreeze` lifts it."
        blocked = f"releases are {held.describe(now)}. {lift}"
    gate_met = bool(status and status.ready and status_is_fresh(inst, status, now))
    if status and status.ready and not status_is_fresh(inst, status, now):
        conditions = (
            *conditions,
            Condition("fresh readiness", False, "the agent is not updating it"),
        )
    elif gate_met and status and status.healthy is False:
        # The gate's grace keeps a ready colour ready through a short failure, so its state does
        # not flicker; traffic still never moves to a colour whose latest health check failed
        # (a hung container answers nothing: that is a true reason, not sampling order).
        gate_met = False
        conditions = (
            *conditions,
            Condition("health answers now", False, "its latest health check failed"),
        )
    return SwitchPlan(
        from_color=live,
        to_color=target,
        to_image=(status.image if status else None) or (deployment.image if deployment else None),
        to_version=(status.version if status else None)
        or (deployment.version if deployment else None),
        gate_met=gate_met,
        conditions=conditions,
        blocked_reason=blocked,
        parity=status.parity if status else None,
    )


def plan_rollback(inst: Installation) -> RollbackPlan:
    live = inst.store.live()
    if live is None:
        return _no_rollback("Nothing is live yet, so there is nothing to roll back.")
    # The colour that was live before this one, never merely "the other one": a colour that
    # has not been live (first install, or replaced by a deploy since) is no rollback target.
    target = inst.store.previous()
    if target is None or target == live:
        return _no_rollback(
            f"No colour was live before {live}, so there is nothing to roll back to "
            "(a rollback needs an earlier version that has served traffic)."
        )
    status = inst.store.slot_status(target)
    live_status = inst.store.slot_status(live)
    deployment = inst.store.latest_deployment(target)
    blocked = None
    if status is None or status.container_state != "running":
        state = status.container_state if status and status.container_state else "not running"
        blocked = f"{target} is {state}: there is no running previous version to roll back to."
    behind = bool(
        status
        and live_status
        and status.height is not None
        and live_status.height is not None
        and status.height < live_status.height
    )
    warning = None
    if behind and status and live_status and status.height is not None and live_status.height:
        warning = (
            f"{target} is {live_status.height - status.height} blocks behind {live}: "
            "clients may briefly see older data."
        )
    return RollbackPlan(
        from_color=live,
        to_color=target,
        to_state=status.state if status else None,
        to_version=(status.version if status else None)
        or (deployment.version if deployment else None),
        lag=status.lag if status else None,
        behind_live=behind,
        warning=warning,
        blocked_reason=blocked,
    )


def _no_rollback(reason: str) -> RollbackPlan:
    return RollbackPlan(None, None, None, None, None, False, blocked_reason=reason)


def _route(
    inst: Installation,
    to: Color,
    kind: str,
    actor: Actor,
    note: str = "",
    kept: KeptSessions | None = None,
) -> Iterator[OperationEvent]:
    """Change the proxy to `to`, verify it, then record the new live colour.

    After a failure the proxy is read back before anything is said: the switch happened after
    all (finish it), it did not (say so), or nobody can tell yet (keep the lock and read back for
    a bounded time, then say "unknown" and reconcile)."""
    live = inst.store.live()
    yield Progress(f"Routing traffic to {to} through {inst.proxy.name}…")
    try:
        result = inst.proxy.switch(to)
    except LeaseLost as exc:  # the fence asked before the proxy was touched
        yield Outcome(False, f"{exc} Traffic stays on {live or 'no colour'}.")
        return
    except ProxyError as exc:
        settled = yield from _settle_failure(inst, to, kind, actor, live, exc)
        if settled is None:
            return
        result = settled
    try:
        with inst.store.together():  # the record is whole or absent, never half a switch
            text = _record(inst, to, kind, actor, live, result, note, kept)
    except StateDirError as exc:
        text = (
            f"{kind.capitalize()} {live or 'none'} → {to}: traffic is on {to} (the proxy "
            f"verified it, cutover {result.cutover_ms:.0f} ms), but it is not recorded: {exc} "
            "The agent records it from the proxy once the store answers; until then `bluegreen "
            "status` shows the last state it read."
        )
        inst.notifier.send("failure", f"{inst.config.service}: {text}", "error")
        yield Outcome(True, text, cutover_ms=result.cutover_ms)
        return
    inst.notifier.send(
        "switched" if kind == "switch" else "rolled_back", f"{inst.config.service}: {text}", "info"
    )
    if kind == "switch":  # [image] keep: the old images go once a new version serves
        yield from prune_after_switch(inst, actor)
    yield Outcome(True, text, cutover_ms=result.cutover_ms)


def _record(
    inst: Installation,
    to: Color,
    kind: str,
    actor: Actor,
    live: Color | None,
    result: SwitchResult,
    note: str,
    kept: KeptSessions | None,
) -> str:
    """Record what the proxy now routes (the caller makes it one transaction); its sentence."""
    inst.store.set_live(to, live)
    inst.store.set_canary(None)  # the proxy's switch ended any canary
    now = time.time()
    inst.store.set_watch(to, now + inst.config.switch.watch_seconds if kind == "switch" else 0.0)
    deployment = inst.store.active_deployment(to) or inst.store.latest_deployment(to)
    if deployment is not None:
        inst.store.set_phase(deployment.id, Phase.LIVE)
        inst.store.set_deployment_fields(deployment.id, cutover_ms=result.cutover_ms)
    if kind == "rollback" and live is not None:
        from_deployment = inst.store.active_deployment(live) or inst.store.latest_deployment(live)
        if from_deployment is not None:
            inst.store.set_phase(from_deployment.id, Phase.ROLLED_BACK, f"rolled back by {actor}")
    arrow = f"{live or 'none'} → {to}"
    text = f"{kind.capitalize()} {arrow}: cutover {result.cutover_ms:.0f} ms ({result.detail})."
    sessions = after_route(inst, to, kind, actor, kept)  # [sessions]: ops/sessions.py
    note = " ".join(part for part in (note, sessions) if part)
    text = f"{text} {note}" if note else text  # e.g. the parity outcome at the switch
    inst.store.record_event(
        kind, text, "success", str(actor), to, deployment.id if deployment else None
    )
    inst.store.add_metric(f"{kind}_cutover_ms", result.cutover_ms, now, {"to": to})
    return text


def _settle_failure(
    inst: Installation, to: Color, kind: str, actor: Actor, live: Color | None, exc: ProxyError
) -> Generator[OperationEvent, None, SwitchResult | None]:
    """What a failed switch really did, from a read-back; its result if it happened after all."""
    reason = describe_failure(exc)
    seen = yield from _read_back_until_answered(inst, exc.read_back)
    if seen.answered and seen.color == to and live != to:
        yield Progress(f"The proxy routes to {to} after all ({reason}) Verifying…", "warning")
        try:
            result = inst.proxy.switch(to)  # the same colour again: verified and persisted
        except ProxyError as again:
            reason = describe_failure(again)
            seen = again.read_back or inst.proxy.read_back()
        else:
            return dataclasses.replace(
                result, detail=f"{result.detail}; applied although the proxy first failed: {reason}"
            )
    failed = f"{kind.capitalize()} to {to} failed"
    if seen.answered:
        where = seen.describe()
        if seen.color == live:
            text = f"{failed}; traffic unchanged ({where}, read back). {reason}"
        else:
            text = f"{failed}, and {where} now (read back). {reason}"
    else:
        text = (
            f"{kind.capitalize()} to {to}: outcome unknown. The proxy did not answer for "
            f"{PROXY_SETTLE_SECONDS:.0f} s after: {reason} Traffic may be on either colour: "
            "check the proxy, then `bluegreen reconcile` (the agent does it when it answers)."
        )
    inst.store.record_event("failure", text, "error", str(actor), to)
    inst.notifier.send("failure", f"{inst.config.service}: {text}", "error")
    if not seen.answered or seen.color != live:
        for drift in reconcile(inst, actor):  # the proxy is the truth: the store follows it
            yield Progress(f"Reconciled: {drift.what} — {drift.fixed}.", "warning")
    yield Outcome(False, text)
    return None


def _read_back_until_answered(
    inst: Installation, first: ReadBack | None
) -> Generator[OperationEvent, None, ReadBack]:
    seen = first if first is not None else inst.proxy.read_back()
    if seen.answered:
        return seen
    yield Progress(
        f"The proxy does not answer; reading back where traffic goes (up to "
        f"{PROXY_SETTLE_SECONDS:.0f} s, the operator lock stays held)…",
        "warning",
    )
    deadline = time.monotonic() + PROXY_SETTLE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(PROXY_READ_BACK_INTERVAL_SECONDS)
        seen = inst.proxy.read_back()
        if seen.answered:
            return seen
    return seen


def gate_or_force(
    inst: Installation, plan: SwitchPlan, actor: Actor, force: bool, what: str, anyway: str
) -> Generator[OperationEvent, None, bool]:
    """The readiness gate before traffic moves (a switch, a canary): met, or forced — recorded
    as a `forced` event — or refused with what is unmet. True when the operation may go on."""
    if plan.gate_met:
        return True
    summary = unmet_summary(plan.conditions)
    if not force:
        yield Outcome(
            False,
            f"{what.capitalize()} refused: {plan.to_color} is not ready: {summary}. "
            f"Wait, or use --force to {anyway} anyway.",
        )
        return False
    text = f"Forced {what} to {plan.to_color} with the gate not met: {summary}."
    inst.store.record_event("forced", text, "warning", str(actor), plan.to_color)
    yield Progress(text, "warning")
    return True


def switch(
    inst: Installation,
    actor: Actor,
    force: bool = False,
    read_only: bool = False,
    kind: str = "switch",
    note: str = "",
    keep_sessions: bool | None = None,
) -> Iterator[OperationEvent]:
    """Through the gate to the idle colour; `kind`/`note` audit it otherwise (a named rollback
    is a switch recorded as a rollback to its version). `keep_sessions`: keep the live colour's
    sessions there ([sessions]); None = its `keep`. The lock and the freeze see `kind`: a
    freeze refuses a switch, never a rollback's."""
    with mutating(inst, kind, actor, read_only):
        reconciled = reconcile(inst, actor)  # decide from what traffic sees, not a stale store
        for drift in reconciled:
            yield Progress(f"Reconciled: {drift.what} — {drift.fixed}.", "warning")
        plan = plan_switch(inst, way_back=kind == "rollback")
        if plan.blocked_reason:
            yield Outcome(False, f"Switch refused: {plan.blocked_reason}")
            return
        if reconciled.docker_problem:
            text = (
                f"{reconciled.docker_problem} Without Docker, bluegreen cannot confirm that "
                f"{plan.to_color}'s container runs"
            )
            if not force:
                yield Outcome(False, f"Switch refused: {text}; nothing was changed.")
                return
            yield Progress(f"{text}; switching anyway (--force).", "warning")
        if not (yield from gate_or_force(inst, plan, actor, force, "switch", "switch")):
            return
        parity = yield from check_parity_at_switch(inst, plan, actor, force)
        if parity.refusal:
            yield Outcome(False, parity.refusal)
            return
        failed = yield from deployment_stage(inst, "pre-switch", plan.to_color, actor)
        if failed is not None:
            yield Outcome(
                False,
                f"Switch to {plan.to_color} stopped: {failed.sentence()} Traffic stays on "
                f"{plan.from_color or 'no colour'}; the proxy was not touched.",
            )
            return
        kept, refusal = kept_for_switch(inst, plan, keep_sessions)
        if refusal:
            yield Outcome(False, refusal)
            return
        if kept is not None:  # set while the old colour is live, so it changes nothing yet
            yield Progress(f"Keeping sessions started on {kept.old} there…")
            try:
                keep_before_switch(inst, kept)
            except ProxyError as exc:
                yield Outcome(False, f"Switch refused: {describe_failure(exc)}")
                return
        deployment = inst.store.active_deployment(plan.to_color)
        if deployment is not None:
            inst.store.set_phase(deployment.id, Phase.SWITCHING)
        stage: Stage = "post-switch" if kind == "switch" else "post-rollback"
        routed = _route(
            inst, plan.to_color, kind, actor, " ".join(filter(None, (note, parity.note))), kept
        )
        yield from then_post_stage(routed, inst, stage, plan.to_color, actor)


def rollback(
    inst: Installation,
    actor: Actor,
    reason: str | None = None,
    read_only: bool = False,
    note: str = "",
) -> Iterator[OperationEvent]:
    with mutating(inst, "rollback", actor, read_only):
        yield from rollback_locked(inst, actor, reason, note)


def rollback_locked(
    inst: Installation, actor: Actor, reason: str | None = None, note: str = ""
) -> Iterator[OperationEvent]:
    """Rollback for a caller that already holds the operator lock (the agent's auto-rollback).

    Docker not answering does not stop a rollback: it is the way back, and the proxy's own
    verification tells whether the previous colour serves."""
    reconciled = reconcile(inst, actor)
    for drift in reconciled:
        yield Progress(f"Reconciled: {drift.what} — {drift.fixed}.", "warning")
    if reconciled.docker_problem:
        yield Progress(
            f"{reconciled.docker_problem} Rolling back on what was last seen.", "warning"
        )
    plan = plan_rollback(inst)
    if plan.blocked_reason or plan.to_color is None:
        yield Outcome(False, f"Rollback refused: {plan.blocked_reason}")
        return
    if reason:
        yield Progress(f"Rolling back because {reason}", "warning")
    if plan.warning:
        yield Progress(plan.warning, "warning")
    routed = _route(inst, plan.to_color, "rollback", actor, note)
    yield from then_post_stage(routed, inst, "post-rollback", plan.to_color, actor)
