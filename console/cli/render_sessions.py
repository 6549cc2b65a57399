"""The sessions of a session-kept switch in `status`, `status --json` and `sessions --json`."""

from __future__ import annotations

from typing import Any

from console.core.measures.sessions import MigrationView


def view_json(view: MigrationView | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {
        "old": view.old,
        "new": view.new,
        "on_old": view.on_old,
        "on_new": view.on_new,
        "started_with": view.started_with,
        "retire": view.retire,
        "deadline": view.deadline,
        "moved": view.moved_share(),
        "error": view.error or None,
    }


def status_lines(view: MigrationView | None, now: float) -> list[str]:
    """What `status` prints under its header while a session-kept switch runs."""
    return [view.summary(now)] if view is not None else []
