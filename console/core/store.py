"""What the console decided, in SQLite (WAL) in the state dir: live colour, deployments, events,
samples, slot statuses, metrics and heartbeats.

Docker and the proxy are the source of what *is*; this is the record of what was *decided*, shared
by the agent (writing) and every TUI and CLI (reading) through one file. Connections, transactions
and migrations live in `store_db`; the schema and row conversions in `store_schema`.

Nothing secret is stored: callers pass redacted text, and the optional `redact` hook is applied
again to event text, deployment outcomes and env values, and slot-status reasons, as a second line
of defence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from console.core.fsutil import ensure_private_dir
from console.core.model import (
    Canary,
    Color,
    Deployment,
    EventLevel,
    EventRecord,
    PartReading,
    Phase,
    Sample,
    SlotStatus,
    SwitchPolicy,
)
from console.core.store_db import BUSY_TIMEOUT_MS, Database
from console.core.store_schema import (
    SCHEMA_VERSION,
    TERMINAL_PHASES,
    MetricPoint,
    as_color,
    deployment_from_row,
    event_from_row,
    slot_status_from_json,
    slot_status_to_json,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DB_FILE",
    "SCHEMA_VERSION",
    "TERMINAL_PHASES",
    "MetricPoint",
    "Store",
]

DB_FILE = "bluegreen.db"
_DEPLOYMENT_FIELDS = frozenset({"start_height", "target_height", "cutover_ms"})
_UPSERT_STATE = (
    "INSERT INTO state (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class Store:
    """The state database; safe to share between threads. Open with `Store.open(state_dir)`.

    Every method raises StateDirError (one sentence) if the database cannot be used.
    """

    def __init__(self, path: str | Path, redact: Callable[[str], str] | None = None) -> None:
        self.path = Path(path)
        self._redact_hook = redact
        self._db = Database(self.path)

    @classmethod
    def open(cls, state_dir: str | Path, redact: Callable[[str], str] | None = None) -> Store:
        """Open (creating if needed) `state_dir/bluegreen.db`; StateDirError says what is wrong."""
        directory = ensure_private_dir(state_dir)
        return cls(directory / DB_FILE, redact=redact)

    def close(self) -> None:
        self._db.close()

    def _redact(self, text: str) -> str:
        return self._redact_hook(text) if self._redact_hook else text

    # ── live colour and the post-switch watch window ─────────────────────────────────────────────

    def _state_values(self, *keys: str) -> dict[str, str]:
        marks = ", ".join("?" for _ in keys)
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT key, value FROM state WHERE key IN ({marks})", keys
            ).fetchall()
        return {row["key"]: row["value"] for row in rows}

    def live(self) -> Color | None:
        return as_color(self._state_values("live").get("live"))

    def previous(self) -> Color | None:
        return as_color(self._state_values("previous").get("previous"))

    def set_live(self, live: Color | None, previous: Color | None) -> None:
        """Record both together: a crash never leaves a new live with an old previous.

        When the live colour changes, the time is kept too (`switched_at`, for retiring the
        previous colour after a while)."""
        with self._db.write() as conn:
            row = conn.execute("SELECT value FROM state WHERE key = 'live'").fetchone()
            if (row["value"] if row else None) != live:
                conn.execute(_UPSERT_STATE, ("switched_at", repr(time.time())))
            for key, value in (("live", live), ("previous", previous)):
                if value is None:
                    conn.execute("DELETE FROM state WHERE key = ?", (key,))
                else:
                    conn.execute(_UPSERT_STATE, (key, value))

    def switched_at(self) -> float | None:
        """When the live colour last changed (through `set_live`), or None if it never did."""
        value = self._state_values("switched_at").get("switched_at")
        return float(value) if value is not None else None

    def set_watch(self, color: Color, until: float) -> None:
        """Open the post-switch window in which the agent rolls `color` back if it fails;
        `until` <= 0 closes it."""
        with self._db.write() as conn:
            if until <= 0:
                conn.execute("DELETE FROM state WHERE key IN ('watch_color', 'watch_until')")
                return
            conn.executemany(
                _UPSERT_STATE, (("watch_color", color), ("watch_until", repr(float(until))))
            )

    def watch(self) -> tuple[Color, float] | None:
        """The post-switch window as (colour, until epoch), or None; expiry is the caller's call."""
        values = self._state_values("watch_color", "watch_until")
        color = as_color(values.get("watch_color"))
        if color is None or "watch_until" not in values:
            return None
        return color, float(values["watch_until"])

    def canary(self) -> Canary | None:
        """The canary bluegreen set (reconciled with the proxy's), or None."""
        values = self._state_values("canary_color", "canary_percent")
        color = as_color(values.get("canary_color"))
        percent = int(values.get("canary_percent") or 0)
        return Canary(color, percent) if color is not None and percent > 0 else None

    def set_canary(self, canary: Canary | None) -> None:
        with self._db.write() as conn:
            if canary is None:
                conn.execute("DELETE FROM state WHERE key IN ('canary_color', 'canary_percent')")
                return
            pairs = (("canary_color", canary.color), ("canary_percent", str(canary.percent)))
            conn.executemany(_UPSERT_STATE, pairs)

    # ── deployments ──────────────────────────────────────────────────────────────────────────────

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
                " phases, env, target_height) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            deployment_id = cursor.lastrowid
        assert deployment_id is not None
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
        marks = ", ".join("?" for _ in TERMINAL_PHASES)
        terminal = tuple(sorted(p.value for p in TERMINAL_PHASES))
        return self._one_deployment(f"color = ? AND phase NOT IN ({marks})", (color, *terminal))

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
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, kind, level, safe_text, actor, color, deployment_id),
            )
            event_id = cursor.lastrowid
        assert event_id is not None
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

    # ── samples ──────────────────────────────────────────────────────────────────────────────────

    def add_samples(self, color: Color, samples: list[Sample]) -> None:
        if not samples:
            return
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO samples (color, at, head, height) VALUES (?, ?, ?, ?)",
                [(color, s.at, s.head, s.height) for s in samples],
            )

    def samples(self, color: Color, since: float) -> list[Sample]:
        """Oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT at, head, height FROM samples WHERE color = ? AND at >= ? ORDER BY at",
                (color, since),
            ).fetchall()
        return [Sample(at=row["at"], head=row["head"], height=row["height"]) for row in rows]

    def prune_samples(self, older_than: float) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM samples WHERE at < ?", (older_than,))

    # ── slot status (published by the agent, read by every client) ───────────────────────────────

    def put_slot_status(self, status: SlotStatus) -> None:
        """Publish one colour's status (the agent does, each tick); `updated_at` 0 means now."""
        updated_at = status.updated_at or time.time()
        reason = None if status.reason is None else self._redact(status.reason)
        readings = tuple(self._redacted_reading(r) for r in status.readings)
        stored = replace(status, updated_at=updated_at, reason=reason, readings=readings)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO slot_status (color, data, updated_at) VALUES (?, ?, ?) ON CONFLICT"
                " (color) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (status.color, slot_status_to_json(stored), updated_at),
            )

    def slot_status(self, color: Color) -> SlotStatus | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT data FROM slot_status WHERE color = ?", (color,)).fetchone()
        return slot_status_from_json(row["data"]) if row else None

    def slot_statuses(self) -> dict[Color, SlotStatus]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT data FROM slot_status").fetchall()
        statuses = (slot_status_from_json(row["data"]) for row in rows)
        return {status.color: status for status in statuses if status is not None}

    def _redacted_reading(self, reading: PartReading) -> PartReading:
        return replace(reading, error=self._redact(reading.error) if reading.error else None)

    def put_proxy_reading(self, reading: PartReading) -> None:
        """Publish when the proxy last told its live colour (the agent does, each tick)."""
        text = json.dumps(asdict(self._redacted_reading(reading)))
        with self._db.write() as conn:
            conn.execute(_UPSERT_STATE, ("proxy_reading", text))

    def proxy_reading(self) -> PartReading | None:
        value = self._state_values("proxy_reading").get("proxy_reading")
        if value is None:
            return None
        try:
            return PartReading(**json.loads(value))
        except (TypeError, ValueError):
            return None

    # ── metrics and heartbeats ───────────────────────────────────────────────────────────────────

    def add_metric(
        self, name: str, value: float, at: float, labels: dict[str, str] | None = None
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO metrics (name, value, at, labels) VALUES (?, ?, ?, ?)",
                (name, value, at, json.dumps(labels or {})),
            )

    def metrics(self, name: str, since: float) -> list[MetricPoint]:
        """Oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT name, value, at, labels FROM metrics WHERE name = ? AND at >= ?"
                " ORDER BY at, id",
                (name, since),
            ).fetchall()
        return [
            MetricPoint(row["name"], row["value"], row["at"], json.loads(row["labels"]))
            for row in rows
        ]

    def prune_metrics(self, older_than: float) -> None:
        """Drop old points: the agent adds a few every tick, so the table must be trimmed too."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM metrics WHERE at < ?", (older_than,))

    def heartbeat(self, component: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO heartbeats (component, at) VALUES (?, ?)"
                " ON CONFLICT (component) DO UPDATE SET at = excluded.at",
                (component, time.time()),
            )

    def heartbeats(self) -> dict[str, float]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT component, at FROM heartbeats").fetchall()
        return {row["component"]: row["at"] for row in rows}
