"""Deployments (with their phase times and outcomes) and events (the audit log), in the store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from console.core.model import (
    COLORS,
    Color,
    Deployment,
    EventLevel,
    EventRecord,
    Phase,
    SwitchPolicy,
)
from console.core.store.schema import TERMINAL_PHASES, deployment_from_row, event_from_row
from console.core.store.tables import StoreTables

_DEPLOYMENT_FIELDS = frozenset({"start_height", "target_height", "cutover_ms"})

ActivePhase = tuple[int, Phase, SwitchPolicy]  # a colour's active deployment: id, phase, policy
TERMINAL = tuple(sorted(p.value for p in TERMINAL_PHASES))  # the phases a deployment ends in
_MARKS = ", ".join("?" for _ in TERMINAL)


def active_rows_sql(columns: str) -> str:
    """Each colour's newest deployment that has not ended, `columns` of it (TERMINAL bound)."""
    return (
        f"SELECT {columns} FROM deployments WHERE id IN (SELECT MAX(id)"
        f" FROM deployments WHERE phase NOT IN ({_MARKS}) GROUP BY color)"
    )


def active_phases_from(rows: Iterable[Any]) -> dict[Color, ActivePhase]:
    """Each colour's active deployment as (id, phase, policy), from rows of those columns
    (`active_rows_sql`): what the agent asks every second, without decoding whole rows."""
    return {
        row["color"]: (row["id"], Phase(row["phase"]), SwitchPolicy(row["policy"]))
        for row in rows
        if row["color"] in COLORS
    }


class HistoryRecords(StoreTables):
    """What happened: every deployment and every event, never pruned."""

    def create_deployment(
        self,
        color: Color,
        image: str,
        version: str,
        policy: SwitchPolicy,
        actor: str,
        env: dict[str, str],
        target_height: int | None,
    ) -> Deployment:
        now = time.time()
        phases = {Phase.CREATED.value: now}
        safe_env = {key: self._redact(value) for key, value in env.items()}
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO deployments (color, image, version, policy, phase, actor, created_at,"
                " phases, env, target_height) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    color,
                    image,
                    version,
                    policy.value,
                    Phase.CREATED.value,
                    actor,
                    now,
                    json.dumps(phases),
                    json.dumps(safe_env),
                    target_height,
                ),
            )
            deployment_id = int(cursor.fetchone()[0])
        created = self.deployment(deployment_id)
        assert created is not None
        return created

    def _one_deployment(self, where: str, params: tuple[Any, ...]) -> Deployment | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT * FROM deployments WHERE {where} ORDER BY id DESC LIMIT 1", params
            ).fetchone()
        return deployment_from_row(row) if row else None

    def deployment(self, deployment_id: int) -> Deployment | None:
        return self._one_deployment("id = ?", (deployment_id,))

    def active_deployment(self, color: Color) -> Deployment | None:
        """The latest deployment of `color` that has not ended (failed, cancelled, retired, …)."""
        return self._one_deployment(f"color = ? AND phase NOT IN ({_MARKS})", (color, *TERMINAL))

    def active_deployments(self) -> dict[Color, Deployment]:
        """`active_deployment` of every colour that has one, from one statement."""
        found = (deployment_from_row(row) for row in self._active_rows("*"))
        return {d.color: d for d in found if d.color in COLORS}

    def _active_rows(self, columns: str) -> list[Any]:
        """Each colour's newest deployment that has not ended, `columns` of it."""
        with self._db.read() as conn:
            return list(conn.execute(active_rows_sql(columns), TERMINAL).fetchall())

    def latest_deployment(self, color: Color) -> Deployment | None:
        return self._one_deployment("color = ?", (color,))

    def deployments(self, limit: int = 50) -> list[Deployment]:
        """Newest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM deployments ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [deployment_from_row(row) for row in rows]

    def set_phase(self, deployment_id: int, phase: Phase, outcome: str | None = None) -> None:
        """Move to `phase`, remembering when each phase was first reached."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT phases FROM deployments WHERE id = ?", (deployment_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no deployment {deployment_id}")
            phases = json.loads(row["phases"])
            phases.setdefault(phase.value, time.time())
            conn.execute(
                "UPDATE deployments SET phase = ?, phases = ?, outcome = COALESCE(?, outcome)"
                " WHERE id = ?",
                (
                    phase.value,
                    json.dumps(phases),
                    None if outcome is None else self._redact(outcome),
                    deployment_id,
                ),
            )

    def set_deployment_fields(self, deployment_id: int, **values: int | float | None) -> None:
        """Set start_height / target_height / cutover_ms."""
        unknown = set(values) - _DEPLOYMENT_FIELDS
        if unknown:
            raise ValueError(f"cannot set deployment field(s) {sorted(unknown)}")
        if not values:
            return
        assignments = ", ".join(f"{name} = ?" for name in values)  # names checked above
        with self._db.write() as conn:
            conn.execute(
                f"UPDATE deployments SET {assignments} WHERE id = ?",
                (*values.values(), deployment_id),
            )

    def recent_images(self, limit: int = 10) -> list[str]:
        """Distinct images deployed, most recently used first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT image FROM deployments GROUP BY image ORDER BY MAX(id) DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [row["image"] for row in rows]

    # ── events (the audit log) ───────────────────────────────────────────────────────────────────

    def record_event(
        self,
        kind: str,
        text: str,
        level: EventLevel = "info",
        actor: str = "",
        color: Color | None = None,
        deployment_id: int | None = None,
    ) -> EventRecord:
        at = time.time()
        safe_text = self._redact(text)
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO events (at, kind, level, text, actor, color, deployment_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (at, kind, level, safe_text, actor, color, deployment_id),
            )
            event_id = int(cursor.fetchone()[0])
        return EventRecord(event_id, at, kind, level, safe_text, actor, color, deployment_id)

    def events(self, limit: int = 200, after_id: int = 0) -> list[EventRecord]:
        """Oldest first: the `limit` after `after_id` (for tailing), else the last `limit`."""
        with self._db.read() as conn:
            if after_id:
                rows = conn.execute(
                    "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)
                ).fetchall()
                rows.reverse()
        return [event_from_row(row) for row in rows]

    def count_successes(self, kinds: tuple[str, ...]) -> dict[tuple[str, str], int]:
        """How many successful events of each kind each actor recorded: {(kind, actor): n}.
        The audit log is never pruned, so these only grow (the exporter's counters)."""
        marks = ", ".join("?" for _ in kinds)
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT kind, actor, COUNT(*) AS n FROM events WHERE level = 'success'"
                f" AND kind IN ({marks}) GROUP BY kind, actor",
                kinds,
            ).fetchall()
        return {(row["kind"], row["actor"]): row["n"] for row in rows}
