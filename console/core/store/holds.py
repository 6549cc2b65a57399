"""The deploy freeze and maintenance mode as the store keeps them: one row each in `holds`, so
every operator's console, `status` and the agent see the same hold.

An expired freeze is no freeze: `freeze()` answers None once its `until` has passed, whoever
asks and whether or not anyone lifted it (`lift_expired` records that it ended).
"""

from __future__ import annotations

import sqlite3
import time

from console.core.holds import Freeze, Maintenance
from console.core.store.tables import StoreTables

_UPSERT = (
    "INSERT INTO holds (kind, message, actor, since, until, retry_after) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kind) DO UPDATE SET message = excluded.message, actor = excluded.actor,"
    " since = excluded.since, until = excluded.until, retry_after = excluded.retry_after"
)


class HoldRecords(StoreTables):
    """The `holds` table: kind 'freeze' or 'maintenance'."""

    def freeze(self, now: float | None = None) -> Freeze | None:
        """The freeze in force now, or None (none set, or its `until` has passed)."""
        found = self.stored_freeze()
        moment = time.time() if now is None else now
        return found if found is not None and found.active(moment) else None

    def stored_freeze(self) -> Freeze | None:
        """The freeze row as set, expired or not."""
        row = self._hold("freeze")
        if row is None:
            return None
        return Freeze(row["message"], row["actor"], row["since"], row["until"])

    def set_freeze(self, freeze: Freeze | None) -> None:
        with self._db.write() as conn:
            if freeze is None:
                conn.execute("DELETE FROM holds WHERE kind = 'freeze'")
                return
            message = self._redact(freeze.message)
            row = ("freeze", message, freeze.actor, freeze.since, freeze.until, None)
            conn.execute(_UPSERT, row)

    def clear_expired_freeze(self, now: float) -> Freeze | None:
        """Remove the freeze if its `until` has passed, in one transaction (a freeze set a
        moment ago is never removed); the one removed, or None."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT * FROM holds WHERE kind = 'freeze' AND until IS NOT NULL AND until <= ?",
                (now,),
            ).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM holds WHERE kind = 'freeze'")
        return Freeze(row["message"], row["actor"], row["since"], row["until"])

    def maintenance(self) -> Maintenance | None:
        row = self._hold("maintenance")
        if row is None:
            return None
        return Maintenance(row["message"], row["actor"], row["since"], row["retry_after"])

    def set_maintenance(self, maintenance: Maintenance | None) -> None:
        with self._db.write() as conn:
            if maintenance is None:
                conn.execute("DELETE FROM holds WHERE kind = 'maintenance'")
                return
            m = maintenance
            row = ("maintenance", self._redact(m.message), m.actor, m.since, None, m.retry_after)
            conn.execute(_UPSERT, row)

    def _hold(self, kind: str) -> sqlite3.Row | None:
        with self._db.read() as conn:
            try:
                row: sqlite3.Row | None = conn.execute(
                    "SELECT * FROM holds WHERE kind = ?", (kind,)
                ).fetchone()
            except sqlite3.OperationalError as exc:
                # A watcher reading a database no writer has migrated yet: no hold is set.
                if "no such table" not in str(exc):
                    raise
                return None
        return row
