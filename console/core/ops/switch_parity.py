"""Parity sampled at the moment of a switch: never the agent's earlier report, always both
colours' heights and values read now. With `readiness.parity_required`, anything but a match of
every check refuses the switch (unless forced) and says which check, at which height, with both
values. The outcome goes into history (a `parity` event) and the switch's own event and
notification either way."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from console.core.installation import Installation
from console.core.measures.parity import ParityReport, summary
from console.core.model import (
    COLORS,
    Actor,
    Color,
    EventLevel,
    OperationEvent,
    Progress,
    SwitchPlan,
)


@dataclass(frozen=True)
class SwitchParity:
    report: ParityReport | None = None
    note: str = ""  # appended to the switch's event and notification
    refusal: str | None = None  # set when the switch must not go ahead


def not_serving(inst: Installation) -> dict[Color, str]:
    """Colours whose container is not running: their database may answer, but they serve no one,
    so comparing with them proves nothing."""
    out: dict[Color, str] = {}
    for color in COLORS:
        status = inst.store.slot_status(color)
        state = status.container_state if status else None
        if state != "running":
            out[color] = f"its container is {state or 'not there'}"
    return out


def check_parity_at_switch(
    inst: Installation, plan: SwitchPlan, actor: Actor, force: bool
) -> Generator[OperationEvent, None, SwitchParity]:
    sampler = inst.parity
    if sampler is None:
        return SwitchParity()
    if plan.from_color is None:
        yield Progress("Parity: nothing is live to compare with.")
        return SwitchParity()
    yield Progress("Comparing both colours at a pinned height (parity, sampled now)…")
    report = sampler.run(not_serving(inst))
    text = summary(report)
    level: EventLevel = "success" if report.all_match else "warning"
    deployment = inst.store.active_deployment(plan.to_color)
    inst.store.record_event(
        "parity",
        f"At the switch to {plan.to_color}: {text}.",
        "success" if report.all_match else "error",
        str(actor),
        plan.to_color,
        deployment.id if deployment else None,
    )
    yield Progress(text[:1].upper() + text[1:] + ".", level)
    note = f"Parity: {text}."
    if report.all_match or not inst.config.readiness.parity_required:
        return SwitchParity(report, note)
    if not force:
        refusal = (
            f"Switch refused: {text}. readiness.parity_required is set: {plan.to_color} must "
            "serve the same data as the live colour. Fix the release (or the check), or use "
            "--force to switch anyway."
        )
        inst.notifier.send("failure", f"{inst.config.service}: {refusal}", "error")
        return SwitchParity(report, note, refusal)
    forced = f"Forced switch to {plan.to_color} with parity not met: {text}."
    inst.store.record_event("forced", forced, "warning", str(actor), plan.to_color)
    yield Progress(forced, "warning")
    return SwitchParity(report, note)
