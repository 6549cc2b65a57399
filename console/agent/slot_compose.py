"""Small pieces of a colour's status that SlotWatch composes (kept apart to keep it small)."""

from __future__ import annotations

from dataclasses import replace

from console.core.model import Condition, SlotState, SlotStatus


def docker_silent_status(status: SlotStatus, error: str | None, said: str) -> SlotStatus:
    """Docker is not answering: the container is as last seen, so the gate is not met (a colour
    whose container nobody can see is not switched to) and the reason says why."""
    state = status.state
    if state == SlotState.READY:
        state = SlotState.SYNCING if status.height is not None else SlotState.STARTING
    reason = "; ".join(part for part in (error, status.reason) if part) or None
    return replace(
        status,
        state=state,
        ready=False,
        conditions=(*status.conditions, Condition("Docker answers", False, said)),
        reason=reason,
    )


def label_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
