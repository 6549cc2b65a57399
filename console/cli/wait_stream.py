"""`deploy --wait --json`: one JSON object per line for each progress step, then the outcome.

Made for CI logs and `jq`: every line is a whole object with an `event` key —
`progress` (phase, state, height, head, lag, ETA) whenever one of them moves, at most once a
second unless the state or phase changed, then exactly one `outcome` (ready, switched, failed,
rolled_back, timeout). The exit code says the same: 0 ready/switched, 1 otherwise.
"""

from __future__ import annotations

import json
import time
from typing import Any

from console.core.model import Deployment, Phase, SlotState, SlotStatus

SUCCESS = ("ready", "switched")
MIN_INTERVAL = 1.0  # seconds between two progress lines that only move the height


def progress_record(color: str, slot: SlotStatus, deployment: Deployment | None) -> dict[str, Any]:
    return {
        "event": "progress",
        "color": color,
        "deployment_id": slot.deployment_id,
        "phase": str(deployment.phase) if deployment else None,
        "state": str(slot.state),
        "height": slot.height,
        "head": slot.head,
        "lag": slot.lag,
        "progress": slot.progress,
        "speed": slot.speed,
        "eta_seconds": slot.eta_seconds,
        "at_head": slot.at_head,
        "at": time.time(),
    }


def outcome_name(slot: SlotStatus, deployment: Deployment | None, timed_out: bool) -> str:
    """What became of the deployment, in one word a CI script can test."""
    if timed_out:
        return "timeout"
    if deployment is not None and deployment.phase == Phase.ROLLED_BACK:
        return "rolled_back"
    if slot.state == SlotState.LIVE and slot.deployment_id == (deployment and deployment.id):
        return "switched"
    if slot.state == SlotState.READY and slot.deployment_id == (deployment and deployment.id):
        return "ready"
    return "failed"


class ProgressStream:
    """Prints progress lines when something moved; the outcome line once at the end."""

    def __init__(self, color: str) -> None:
        self.color = color
        self._last_key: tuple[Any, ...] | None = None
        self._last_at = 0.0

    def progress(self, slot: SlotStatus, deployment: Deployment | None) -> None:
        record = progress_record(self.color, slot, deployment)
        key = (record["state"], record["phase"], record["height"], record["head"])
        if key == self._last_key:
            return
        moved_only = self._last_key is not None and key[:2] == self._last_key[:2]
        if moved_only and time.monotonic() - self._last_at < MIN_INTERVAL:
            return
        self._emit(record)
        self._last_key, self._last_at = key, time.monotonic()

    def outcome(
        self,
        slot: SlotStatus,
        deployment: Deployment | None,
        detail: str | None = None,
        timed_out: bool = False,
    ) -> str:
        name = outcome_name(slot, deployment, timed_out)
        record = progress_record(self.color, slot, deployment)
        record.update(event="outcome", outcome=name, detail=detail)
        self._emit(record)
        return name

    @staticmethod
    def _emit(record: dict[str, Any]) -> None:
        print(json.dumps(record), flush=True)
