"""What a colour's container says of itself, and why a colour failed, in the words status shows.

SlotWatch decides *that* a colour failed (a restart since its container was first seen, a stall,
no height or no readiness within the start timeout); these say *why*, from the container, the
catch-up tracker and the last error its logs showed — one place for the sentences an operator
reads at 3 a.m.
"""

from __future__ import annotations

from console.agent.slot_compose import label_int
from console.core.contracts.runtime import ContainerInfo
from console.core.gate.tracking import CatchupTracker
from console.core.model import Color, Condition, SlotStatus


def container_status(color: Color, info: ContainerInfo, now: float) -> SlotStatus:
    """What the container itself says, running or not."""
    return SlotStatus(
        color,
        image=info.image,
        version=info.labels.get("bluegreen.version"),
        # The container's own label, not the store's newest row: during a re-deploy the old
        # container must never lend its readiness to the new deployment.
        deployment_id=label_int(info.labels.get("bluegreen.deployment")),
        container_state=info.state,
        started_at=info.started_at,
        restart_count=info.restart_count,
        updated_at=now,
    )


def container_failure(
    info: ContainerInfo, restarts_at_start: int, height: int | None, last_error: str | None
) -> str:
    """A container that exited, was killed or keeps restarting."""
    where = f" at height {height}" if height is not None else ""
    if info.state == "restarting" or info.restart_count > restarts_at_start:
        what = f"restart-looping ({info.restart_count} restarts){where}"
    elif info.oom_killed:
        what = f"killed for running out of memory{where}"
    else:
        what = f"exited with code {info.exit_code}{where}"
    return f"Container {what}" + (f"; last error: {last_error}" if last_error else "")


def running_failure(
    info: ContainerInfo,
    restarts_at_start: int,
    *,
    catches_up: bool,
    start_timeout: float,
    conditions: tuple[Condition, ...],
    tracker: CatchupTracker,
    now: float,
    last_error: str | None,
) -> str:
    """A running colour judged failed: restarted, never ready or never indexing in time, or
    stalled."""
    if info.restart_count > restarts_at_start:
        return container_failure(info, restarts_at_start, tracker.height, last_error)
    if not catches_up:
        unmet = "; ".join(f"{c.name} ({c.detail})" for c in conditions if not c.met)
        return (
            f"Not ready after {start_timeout:.0f} s: "
            f"{unmet or 'conditions not met'} (check its logs)."
        )
    if tracker.height is None:
        return (
            f"No height after {start_timeout:.0f} s: the "
            "service never started indexing (check its logs)."
        )
    stalled_for = tracker.seconds_since_progress(now) or 0.0
    return f"Stalled at height {tracker.height} for {stalled_for:.0f} s (lag {tracker.lag})."
