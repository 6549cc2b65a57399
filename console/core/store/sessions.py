"""A session-kept switch's migration and the sessions counted on each colour, in the state table.

Two rows of the store's `state` table (JSON values, no schema migration): `sessions` is what the
switch decided (which colour keeps which sessions, since when, how it is retired) and is written
only by operations; `sessions_counts` is what the agent counted on each colour this tick. Kept
apart so the agent's writes every tick never race an operation's.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from console.core.measures.sessions import Migration, SessionCounts
from console.core.model import COLORS
from console.core.store.tables import UPSERT_STATE

if TYPE_CHECKING:
    from console.core.store.store import Store

_MIGRATION, _COUNTS = "sessions", "sessions_counts"


def migration(store: Store) -> Migration | None:
    data = _load(store, _MIGRATION)
    try:
        return Migration(**data) if data else None
    except TypeError:
        return None  # a row this version cannot read is no migration, never fatal


def set_migration(store: Store, value: Migration | None) -> None:
    with store._db.write() as conn:
        if value is None:
            conn.execute("DELETE FROM state WHERE key = ?", (_MIGRATION,))
        else:
            conn.execute(UPSERT_STATE, (_MIGRATION, json.dumps(asdict(value))))


def counts(store: Store) -> SessionCounts | None:
    data = _load(store, _COUNTS)
    try:
        return SessionCounts(**data) if data else None
    except TypeError:
        return None


def put_counts(store: Store, value: SessionCounts) -> None:
    value = SessionCounts(value.at, value.blue, value.green, store._redact(value.error))
    with store._db.write() as conn:
        conn.execute(UPSERT_STATE, (_COUNTS, json.dumps(asdict(value))))


def _load(store: Store, key: str) -> dict[str, Any] | None:
    raw = store._state_values(key).get(key)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if key == _MIGRATION and (data.get("old") not in COLORS or data.get("new") not in COLORS):
        return None
    return data
