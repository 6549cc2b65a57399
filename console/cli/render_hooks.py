"""How `history` shows hook runs ([[hooks]]): the JSON records and the lines of text."""

from __future__ import annotations

import time
from typing import Any

from console.core.hooks.outcome import HookRun


def hooks_json(runs: list[HookRun]) -> list[dict[str, Any]]:
    """Newest first: name, stage, kind, colour, deployment, actor, exit, duration, last lines."""
    return [
        {
            "id": run.id,
            "name": run.name,
            "stage": run.stage,
            "kind": run.kind,
            "color": run.color,
            "deployment_id": run.deployment_id,
            "actor": run.actor,
            "started_at": run.started_at,
            "duration_seconds": run.seconds,
            "exit_code": run.exit_code,
            "timed_out": run.timed_out,
            "timeout_seconds": run.timeout_seconds,
            "error": run.error,
            "ok": run.ok,
            "outcome": run.what_happened(),
            "last_lines": list(run.last_lines),
        }
        for run in runs
    ]


def print_hooks(runs: list[HookRun]) -> None:
    if not runs:
        return
    print("HOOKS")
    for run in runs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
        deployment = f"#{run.deployment_id}" if run.deployment_id else "—"
        print(
            f"  {when}  {run.stage:13} {run.name:16} {run.color or '':5} {deployment:5} "
            f"{'ok' if run.ok else 'FAILED':6} {run.what_happened()}  [{run.actor}]"
        )
