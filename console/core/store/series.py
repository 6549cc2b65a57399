"""Time series in the store: candidate heights (samples), the agent's metrics, heartbeats."""

from __future__ import annotations

import json
import time

from console.core.model import Color, Sample
from console.core.store.schema import MetricPoint
from console.core.store.tables import StoreTables


class SeriesRecords(StoreTables):
    """Points the agent adds every tick and prunes by age."""

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
