"""Every change of a colour's state is an event in the history, with its reason.

A colour that flaps between ready and syncing must be visible afterwards (`history`, the events
pane), not only in the instant an operator happens to look. The first tick after the agent starts
records nothing: there is no earlier state to change from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.core.gate.readiness import unmet_summary
from console.core.model import Color, EventLevel, SlotState, SlotStatus

if TYPE_CHECKING:
    from console.core.store.store import Store

_LEVELS: dict[SlotState, EventLevel] = {
    SlotState.FAILED: "error",
    SlotState.READY: "success",
    SlotState.LIVE: "success",
}


def state_change_text(before: SlotStatus, now: SlotStatus) -> str:
    """'green: ready → syncing (lag ≤ 2 held 5 s (lag 9, for 10.0 s))'."""
    text = f"{now.color}: {before.state} → {now.state}"
    if now.state == SlotState.FAILED or now.reason:
        why = now.reason
    elif before.state == SlotState.READY and now.state in (SlotState.SYNCING, SlotState.STARTING):
        why = unmet_summary(now.conditions)
    elif now.state == SlotState.READY:
        why = "every readiness condition holds"
    else:
        why = None
    return f"{text} ({why})" if why else text


def record_state_changes(
    store: Store,
    actor: str,
    before: dict[Color, SlotStatus],
    after: dict[Color, SlotStatus],
) -> None:
    for color, status in after.items():
        previous = before.get(color)
        if previous is None or previous.state == status.state:
            continue
        level: EventLevel = _LEVELS.get(status.state, "info")
        if previous.state == SlotState.READY and status.state != SlotState.LIVE:
            level = "warning"  # a ready colour that is no longer ready: worth a look
        store.record_event(
            "state", state_change_text(previous, status), level, actor, color, status.deployment_id
        )
