"""Hook runs (console/core/hooks/): one row each, started then finished, never pruned — the
outcome `history --json` shows, and the proof that a post-ready hook already ran for a
deployment (it runs once per deployment, not once per agent start)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from console.core.hooks.outcome import HookRun
from console.core.store.tables import StoreTables


class HookRunRecords(StoreTables):
    def start_hook_run(self, run: HookRun) -> HookRun:
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO hook_runs (started_at, stage, name, kind, color, deployment_id,"
                " actor, timeout_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    run.started_at,
                    run.stage,
                    run.name,
                    run.kind,
                    run.color,
                    run.deployment_id,
                    run.actor,
                    run.timeout_seconds,
                ),
            )
            run_id = int(cursor.fetchone()[0])
        return replace(run, id=run_id)

    def finish_hook_run(self, run: HookRun) -> None:
        lines = [self._redact(line) for line in run.last_lines]
        with self._db.write() as conn:
            conn.execute(
                "UPDATE hook_runs SET seconds = ?, exit_code = ?, timed_out = ?, error = ?,"
                " last_lines = ? WHERE id = ?",
                (
                    run.seconds,
                    run.exit_code,
                    int(run.timed_out),
                    None if run.error is None else self._redact(run.error),
                    json.dumps(lines),
                    run.id,
                ),
            )

    def hook_runs(self, limit: int = 50, deployment_id: int | None = None) -> list[HookRun]:
        """Newest first; of one deployment when given."""
        where, params = ("WHERE deployment_id = ?", (deployment_id,)) if deployment_id else ("", ())
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM hook_runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_from_row(row) for row in rows]

    def hook_started(self, deployment_id: int, stage: str) -> bool:
        """Whether `stage`'s hooks were started for the deployment (by this agent or one before)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT 1 FROM hook_runs WHERE deployment_id = ? AND stage = ? LIMIT 1",
                (deployment_id, stage),
            ).fetchone()
        return row is not None


def _from_row(row: sqlite3.Row) -> HookRun:
    return HookRun(
        id=row["id"],
        stage=row["stage"],
        name=row["name"],
        kind=row["kind"],
        color=row["color"],
        deployment_id=row["deployment_id"],
        actor=row["actor"],
        started_at=row["started_at"],
        seconds=row["seconds"],
        exit_code=row["exit_code"],
        timed_out=bool(row["timed_out"]),
        error=row["error"],
        last_lines=tuple(json.loads(row["last_lines"])),
        timeout_seconds=row["timeout_seconds"],
    )
