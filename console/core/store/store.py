"""What the console decided, in SQLite (WAL) in the state dir: live colour, deployments, events,
samples, slot statuses, metrics and heartbeats.

Docker and the proxy are the source of what *is*; this is the record of what was *decided*, shared
by the agent (writing) and every TUI and CLI (reading) through one file. Connections, transactions
and migrations live in `store/db`; the schema and row conversions in `store/schema`; the tables,
by responsibility, in `store/history` (deployments, events) and `store/series` (samples, metrics,
heartbeats); this module keeps the live colour and what the agent publishes each tick.

A user who may only watch opens it with `Store.open_read_only`: nothing is created or written
(see `store/db`, "Read-only").

Nothing secret is stored: callers pass redacted text, and the optional `redact` hook is applied
again to event text, deployment outcomes and env values, and slot-status reasons, as a second line
of defence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from console.core.contracts.store import StateDatabase
from console.core.fsutil import DB_FILE, ensure_private_dir
from console.core.model import Canary, Color, PartReading, SlotStatus, agreeing_with_live
from console.core.store.db import BUSY_TIMEOUT_MS, Database
from console.core.store.edge_intent import EdgeIntentRecords
from console.core.store.history import (
    TERMINAL,
    ActivePhase,
    HistoryRecords,
    active_phases_from,
    active_rows_sql,
)
from console.core.store.holds import HoldRecords
from console.core.store.hook_runs import HookRunRecords
from console.core.store.plain import plain
from console.core.store.schema import (
    SCHEMA_VERSION,
    TERMINAL_PHASES,
    MetricPoint,
    as_color,
    slot_status_from_json,
    slot_status_to_json,
)
from console.core.store.series import SeriesRecords
from console.core.store.tables import UPSERT_STATE
from console.core.store.together import GroupedWrites

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DB_FILE",
    "SCHEMA_VERSION",
    "TERMINAL_PHASES",
    "MetricPoint",
    "Store",
]


class Store(HistoryRecords, SeriesRecords, HoldRecords, HookRunRecords, EdgeIntentRecords):
    """The state database; safe to share between threads. Open with `Store.open(state_dir)`, or
    `Store.open_read_only(state_dir)` to watch.

    Every method raises StateDirError (one sentence) if the database cannot be used; a write on a
    read-only store raises AccessDenied.
    """

    def __init__(self, database: StateDatabase, redact: Callable[[str], str] | None = None) -> None:
        self.read_only = database.read_only
        self.where = database.where  # for messages: a path, or a URL without its password
        self._redact_hook = redact
        self._grouped = GroupedWrites(database)
        self._db = self._grouped

    @classmethod
    def open(cls, state_dir: str | Path, redact: Callable[[str], str] | None = None) -> Store:
        """Open (creating if needed) `state_dir/bluegreen.db`; StateDirError says what is wrong."""
        directory = ensure_private_dir(state_dir)
        return cls(Database(directory / DB_FILE), redact=redact)

    @classmethod
    def open_read_only(
        cls, state_dir: str | Path, redact: Callable[[str], str] | None = None
    ) -> Store:
        """Open `state_dir/bluegreen.db` for reading only: needs read access, creates nothing."""
        path = Path(state_dir).expanduser() / DB_FILE
        return cls(Database(path, read_only=True), redact=redact)

    def close(self) -> None:
        self._db.close()

    def together(self) -> AbstractContextManager[None]:
        """The block's writes (this thread's) as one transaction: all recorded, or none."""
        return self._grouped.together()

    def wait_for_change(self, timeout: float) -> bool:
        """Wait up to `timeout` s for any process's commit (a shared store tells; SQLite is
        polled, so this just waits); True if one came."""
        return self._db.wait_for_change(timeout)

    # ── live colour and the post-switch watch window ─────────────────────────────────────────────

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
                conn.execute(UPSERT_STATE, ("switched_at", repr(time.time())))
            for key, value in (("live", live), ("previous", previous)):
                if value is None:
                    conn.execute("DELETE FROM state WHERE key = ?", (key,))
                else:
                    conn.execute(UPSERT_STATE, (key, value))
            # The slots' states change with it, in the same transaction (the agent's next tick
            # publishes the same): no reader ever sees the new live beside the old slot states.
            for row in conn.execute("SELECT color, data FROM slot_status").fetchall():
                status = slot_status_from_json(row["data"])
                agreeing = agreeing_with_live(status, live) if status else None
                if agreeing is not None and agreeing is not status:
                    conn.execute(
                        "UPDATE slot_status SET data = ? WHERE color = ?",
                        (slot_status_to_json(agreeing), row["color"]),
                    )

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
                UPSERT_STATE, (("watch_color", color), ("watch_until", repr(float(until))))
            )

    def watch(self) -> tuple[Color, float] | None:
        """The post-switch window as (colour, until epoch), or None; expiry is the caller's call."""
        return _watch_from(self._state_values("watch_color", "watch_until"))

    def decided(self) -> tuple[Steering, dict[Color, ActivePhase]]:
        """What operators (and the agent's switches) decided — `live()`, `previous()`,
        `canary()` and `watch()`, through the same parsers — and each colour's active
        deployment as (id, phase, policy), from one statement, so from one commit: what the agent
        asks every second, busy or idle (console/agent/idle_pace.py)."""
        with self._db.read() as conn:
            rows = conn.execute(_DECIDED_SQL, (*_STEERING_KEYS, *TERMINAL)).fetchall()
        values = {row["color"]: row["phase"] for row in rows if row["kind"] == "state"}
        steering = Steering(
            as_color(values.get("live")),
            as_color(values.get("previous")),
            _canary_from(values),
            _watch_from(values),
        )
        return steering, active_phases_from(row for row in rows if row["kind"] == "deployment")

    def canary(self) -> Canary | None:
        """The canary bluegreen set (reconciled with the proxy's), or None."""
        return _canary_from(self._state_values("canary_color", "canary_percent"))

    def set_canary(self, canary: Canary | None) -> None:
        with self._db.write() as conn:
            if canary is None:
                conn.execute("DELETE FROM state WHERE key IN ('canary_color', 'canary_percent')")
                return
            pairs = (("canary_color", canary.color), ("canary_percent", str(canary.percent)))
            conn.executemany(UPSERT_STATE, pairs)

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

    def snapshot(self) -> tuple[Color | None, Color | None, dict[Color, SlotStatus]]:
        """(live, previous, slot statuses) from one statement, so from one commit; each slot's
        state agrees with that live colour (model.agreeing_with_live)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT 'state' AS what, key, value FROM state WHERE key IN ('live', 'previous')"
                " UNION ALL SELECT 'slot', color, data FROM slot_status"
            ).fetchall()
        values = {row["key"]: row["value"] for row in rows if row["what"] == "state"}
        live, previous = as_color(values.get("live")), as_color(values.get("previous"))
        statuses = (slot_status_from_json(row["value"]) for row in rows if row["what"] == "slot")
        return (
            live,
            previous,
            {s.color: agreeing_with_live(s, live) for s in statuses if s is not None},
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
        if not reading.error:  # nothing to redact: most readings, every tick
            return reading if reading.error is None else replace(reading, error=None)
        return replace(reading, error=self._redact(reading.error))

    def put_proxy_reading(self, reading: PartReading) -> None:
        """Publish when the proxy last told its live colour (the agent does, each tick)."""
        text = json.dumps(plain(self._redacted_reading(reading)))
        with self._db.write() as conn:
            conn.execute(UPSERT_STATE, ("proxy_reading", text))

    def proxy_reading(self) -> PartReading | None:
        value = self._state_values("proxy_reading").get("proxy_reading")
        if value is None:
            return None
        try:
            return PartReading(**json.loads(value))
        except (TypeError, ValueError):
            return None


_STEERING_KEYS = (
    "live",
    "previous",
    "canary_color",
    "canary_percent",
    "watch_color",
    "watch_until",
)

# The state rows as (kind, key, value) and each colour's active deployment as (kind, colour,
# phase, id, policy), in one statement: the names are the deployment columns' names.
_DECIDED_SQL = (
    "SELECT 'state' AS kind, key AS color, value AS phase, NULL AS id, NULL AS policy FROM state"
    f" WHERE key IN ({', '.join('?' for _ in _STEERING_KEYS)}) UNION ALL "
    + active_rows_sql("'deployment' AS kind, color, phase, id, policy")
)


class Steering(NamedTuple):
    """What the operator and the agent decided, as one commit had it."""

    live: Color | None
    previous: Color | None
    canary: Canary | None
    watch: tuple[Color, float] | None


def _watch_from(values: dict[str, str]) -> tuple[Color, float] | None:
    color = as_color(values.get("watch_color"))
    if color is None or "watch_until" not in values:
        return None
    return color, float(values["watch_until"])


def _canary_from(values: dict[str, str]) -> Canary | None:
    color = as_color(values.get("canary_color"))
    percent = int(values.get("canary_percent") or 0)
    return Canary(color, percent) if color is not None and percent > 0 else None
