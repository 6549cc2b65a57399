"""The freeze and maintenance in `status` (text and --json)."""

from __future__ import annotations

from typing import Any

from console.core.holds import Holds


def holds_json(holds: Holds, now: float) -> dict[str, Any]:
    freeze, maintenance = holds.freeze, holds.maintenance
    return {
        "freeze": None
        if freeze is None
        else {
            "message": freeze.message,
            "actor": freeze.actor,
            "since": freeze.since,
            "until": freeze.until,
            "text": freeze.describe(now),
        },
        "maintenance": None
        if maintenance is None
        else {
            "message": maintenance.message,
            "actor": maintenance.actor,
            "since": maintenance.since,
            "retry_after": maintenance.retry_after,
        },
    }


def holds_lines(holds: Holds, now: float) -> list[str]:
    """One line each, first under the status's headline: they change what may be done."""
    lines = []
    if holds.freeze is not None:
        lines.append(
            f"FROZEN: releases {holds.freeze.describe(now)} — deploy, switch and canary are "
            "refused; rollback stays open (`bluegreen unfreeze`)."
        )
    if holds.maintenance is not None:
        lines.append(f"MAINTENANCE: {holds.maintenance.describe()} (`bluegreen maintenance off`).")
    return lines
