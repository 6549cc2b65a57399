"""Several edge proxies (`[[proxy.edges]]`): the intent they must all route to, and what the agent
last read from each of them, as two rows of the `state` table.

The intent is written before any edge changes (console/drivers/proxy/edges), so a console that
dies mid-switch, or an edge that comes back later, is settled from it by the agent; the readings
are what `status` shows (each edge's colour, and whether they agree), published like the proxy's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from console.core.contracts.edges import EdgeIntent, EdgeReading, EdgesView
from console.core.contracts.proxy import ReadBack
from console.core.model import Canary, parse_color
from console.core.store.tables import UPSERT_STATE, StoreTables

_INTENT = "edge_intent"
_READINGS = "edge_readings"


class EdgeIntentRecords(StoreTables):
    def set_edge_intent(self, intent: EdgeIntent) -> None:
        with self._db.write() as conn:
            conn.execute(UPSERT_STATE, (_INTENT, intent.to_json()))

    def edge_intent(self) -> EdgeIntent | None:
        value = self._state_values(_INTENT).get(_INTENT)
        return EdgeIntent.from_json(value) if value is not None else None

    def put_edge_readings(self, readings: tuple[EdgeReading, ...], at: float) -> None:
        """Publish each edge's routing as the agent read it at `at`."""
        rows = [
            {
                "name": r.name,
                "host": r.host,
                "answered": r.seen.answered,
                "color": r.seen.color,
                "canary": [r.seen.canary.color, r.seen.canary.percent] if r.seen.canary else None,
            }
            for r in readings
        ]
        with self._db.write() as conn:
            conn.execute(UPSERT_STATE, (_READINGS, json.dumps({"at": at, "edges": rows})))

    def edges_view(self) -> EdgesView | None:
        """What `status` shows of the edges (None: no agent has read them yet)."""
        published = self.edge_readings()
        if published is None:
            return None
        return EdgesView(published[0], published[1], self.edge_intent())

    def edge_readings(self) -> tuple[float, tuple[EdgeReading, ...]] | None:
        """(when, each edge's reading) as last published; None if never."""
        value = self._state_values(_READINGS).get(_READINGS)
        if value is None:
            return None
        try:
            data = json.loads(value)
            readings = tuple(_reading(row) for row in data["edges"])
            return float(data["at"]), readings
        except (ValueError, TypeError, KeyError):
            return None


def _reading(row: dict[str, object]) -> EdgeReading:
    color = parse_color(str(row["color"])) if row.get("color") else None
    raw = row.get("canary")
    canary = None
    if isinstance(raw, list) and len(raw) == 2:
        canary = Canary(parse_color(str(raw[0])), int(raw[1]))
    seen = ReadBack(bool(row["answered"]), color, canary)
    return EdgeReading(str(row["name"]), str(row["host"]), seen)


class _IntentRows(Protocol):
    def set_edge_intent(self, intent: EdgeIntent) -> None: ...

    def edge_intent(self) -> EdgeIntent | None: ...


class StoreJournal:
    """The intent kept in the store (a state row), shared by every console and the agent."""

    def __init__(self, store: Callable[[], _IntentRows]) -> None:
        self._store = store  # opened on first use: a watcher that only reads never writes

    def record(self, intent: EdgeIntent) -> None:
        self._store().set_edge_intent(intent)

    def recorded(self) -> EdgeIntent | None:
        return self._store().edge_intent()
