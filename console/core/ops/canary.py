"""Canary: send a sticky share of clients to the idle colour before the full switch.

`start(inst, actor, 10)` sends 10 % of clients — the same ones on every request (a hash of the
canary cookie, else of the client address; the proxy decides, see the drivers' `set_canary`) —
to the idle colour; `promote` is the full switch through the normal readiness gate (which ends
the canary); `abort` sends everyone back to the live colour. Each runs under the operator lock,
is recorded as an audit event with its actor and notified, like a switch.

The canary needs the same gate as a switch (unless forced): a client sent to a colour that has
not caught up sees old data just as surely as after a switch, only fewer of them.

`abort_locked` is for a caller that already holds the lock — the agent, when analysis of the
canary's traffic finds a breach.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from console.core.contracts.proxy import ProxyError
from console.core.installation import Installation
from console.core.model import Actor, Canary, Color, OperationEvent, Outcome, Progress
from console.core.ops.operation import describe_failure, mutating
from console.core.ops.reconcile import reconcile
from console.core.ops.switching import gate_or_force, plan_switch, switch

MIN_PERCENT, MAX_PERCENT = 1, 99


def percent_problem(percent: int) -> str | None:
    """Why `percent` is no canary share, as a sentence; None when it is one."""
    if MIN_PERCENT <= percent <= MAX_PERCENT:
        return None
    if percent == 100:
        return "A canary of 100 % is a switch: use `bluegreen canary promote` (or `switch`)."
    if percent == 0:
        return "A canary of 0 % is no canary: use `bluegreen canary abort`."
    return f"The canary share must be a whole percentage, {MIN_PERCENT}-{MAX_PERCENT}."


def start(
    inst: Installation, actor: Actor, percent: int, force: bool = False, read_only: bool = False
) -> Iterator[OperationEvent]:
    """Send `percent` % of clients to the idle colour (or change the share of a running one)."""
    problem = percent_problem(percent)
    if problem:
        yield Outcome(False, f"Canary refused: {problem}")
        return
    with mutating(inst, "canary", actor, read_only):
        for drift in reconcile(inst, actor):  # decide from what traffic sees
            yield Progress(f"Reconciled: {drift.what} — {drift.fixed}.", "warning")
        plan = plan_switch(inst)
        if plan.from_color is None:
            yield Outcome(
                False,
                "Canary refused: nothing is live yet, so there is no traffic to share. The "
                "first colour goes live through its gate (`bluegreen switch`).",
            )
            return
        if plan.blocked_reason:
            yield Outcome(False, f"Canary refused: {plan.blocked_reason}")
            return
        if not (yield from gate_or_force(inst, plan, actor, force, "canary", "send clients there")):
            return
        canary = Canary(plan.to_color, percent)
        before = inst.store.canary()
        yield Progress(f"Sending {canary.describe()} through {inst.proxy.name}…")
        try:
            inst.proxy.set_canary(canary)
        except ProxyError as exc:
            yield from _failed(inst, actor, f"Canary {percent} % to {canary.color}", exc)
            return
        inst.store.set_canary(canary)
        version = f" ({plan.to_version})" if plan.to_version else ""
        was = f"; was {before.percent} %" if before and before.color == canary.color else ""
        text = (
            f"Canary: {canary.describe()}{version}, sticky per client{was}; {plan.from_color} "
            "serves the rest. `bluegreen canary promote` switches, `abort` ends it."
        )
        deployment = inst.store.active_deployment(canary.color)
        inst.store.record_event(
            "canary",
            text,
            "success",
            str(actor),
            canary.color,
            deployment.id if deployment else None,
        )
        inst.notifier.send("canary", f"{inst.config.service}: {text}", "info")
        yield Outcome(True, text)


def abort(
    inst: Installation, actor: Actor, reason: str | None = None, read_only: bool = False
) -> Iterator[OperationEvent]:
    """Send every client back to the live colour."""
    with mutating(inst, "canary abort", actor, read_only):
        yield from abort_locked(inst, actor, reason)


def abort_locked(
    inst: Installation, actor: Actor, reason: str | None = None
) -> Iterator[OperationEvent]:
    """`abort` for a caller that already holds the operator lock (the agent's analysis)."""
    seen = inst.proxy.read_back()
    running = seen.canary if seen.answered else inst.store.canary()
    if running is None and inst.store.canary() is None:
        yield Outcome(True, "No canary is running: every client already goes to the live colour.")
        return
    if reason:
        yield Progress(f"Aborting the canary because {reason}", "warning")
    yield Progress(f"Ending the canary through {inst.proxy.name}…")
    try:
        inst.proxy.set_canary(None)
    except ProxyError as exc:
        yield from _failed(inst, actor, "Canary abort", exc)
        return
    was = running or inst.store.canary()
    inst.store.set_canary(None)
    live = seen.color or inst.store.live()
    because = f" because {reason.rstrip('.')}" if reason else ""
    text = (
        f"Canary aborted{because}: every client goes to {live or 'the live colour'} again"
        f"{f' (was {was.describe()})' if was else ''}."
    )
    inst.store.record_event(
        "canary", text, "warning" if reason else "success", str(actor), was.color if was else None
    )
    inst.notifier.send("canary", f"{inst.config.service}: {text}", "warning")
    yield Outcome(True, text)


def promote(
    inst: Installation, actor: Actor, force: bool = False, read_only: bool = False
) -> Iterator[OperationEvent]:
    """The full switch to the canary's colour, through the normal gate; it ends the canary."""
    canary = inst.store.canary()
    if canary is None:
        yield Outcome(
            False,
            "Promote refused: no canary is running. Start one with `bluegreen canary PERCENT`, "
            "or switch everyone with `bluegreen switch`.",
        )
        return
    yield Progress(f"Promoting the canary ({canary.describe()}): a full switch to {canary.color}.")
    yield from switch(inst, actor, force, read_only)


def _failed(
    inst: Installation, actor: Actor, what: str, exc: ProxyError
) -> Iterator[OperationEvent]:
    """A canary change the proxy did not take: say what it does now, from a read-back."""
    reason = describe_failure(exc)
    seen = exc.read_back if exc.read_back is not None else inst.proxy.read_back()
    if seen.answered:
        now = seen.canary.describe() if seen.canary else "no canary"
        text = f"{what} failed; the proxy sends {now} (read back). {reason}"
        if seen.canary != inst.store.canary():
            inst.store.set_canary(seen.canary)  # the proxy is the truth
    else:
        text = (
            f"{what}: outcome unknown, the proxy did not answer. {reason} Check the proxy, then "
            "`bluegreen reconcile` (the agent does it when the proxy answers)."
        )
    inst.store.record_event("failure", text, "error", str(actor))
    inst.notifier.send("failure", f"{inst.config.service}: {text}", "error")
    yield Outcome(False, text)


def end_canary_to(
    inst: Installation, color: Color, actor: Actor, reason: str
) -> Generator[OperationEvent, None, bool]:
    """Before a deploy replaces `color`'s container: clients sent there by a canary go back to
    the live colour first. Its events as progress (the caller's operation owns the outcome);
    False when the canary could not be ended."""
    running = inst.store.canary()
    if running is None or running.color != color:
        return True
    for event in abort_locked(inst, actor, reason):
        if isinstance(event, Outcome):
            yield Progress(event.text, "warning" if event.ok else "error")
            return event.ok
        yield event
    return False
