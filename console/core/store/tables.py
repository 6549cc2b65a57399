"""What every group of tables in `Store` shares: the database, the redaction hook, the state rows.

`Store` is assembled from one class per responsibility (`store/history`: deployments and the audit
log; `store/series`: samples, metrics, heartbeats; `store`: live colour and published statuses);
each derives from `StoreTables`, so a new group of tables is one module and one base class more.
"""

from __future__ import annotations

from collections.abc import Callable

from console.core.contracts.store import StateDatabase

UPSERT_STATE = (
    "INSERT INTO state (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class StoreTables:
    """The shared part of `Store`'s table groups (set up by `Store.__init__`)."""

    _db: StateDatabase
    _redact_hook: Callable[[str], str] | None

    def _redact(self, text: str) -> str:
        return self._redact_hook(text) if self._redact_hook else text

    def _state_values(self, *keys: str) -> dict[str, str]:
        marks = ", ".join("?" for _ in keys)
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT key, value FROM state WHERE key IN ({marks})", keys
            ).fetchall()
        return {row["key"]: row["value"] for row in rows}
