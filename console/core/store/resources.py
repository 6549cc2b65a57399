"""Each deployment's peak resources and final database size, kept for the next release's planning.

A row per deployment in the store's `state` table (key `resources:<id>`, a JSON value), so no
schema migration is needed and the figures outlive the 24 h the samples and metrics are kept.
The agent folds every published `ResourceFigures` into its deployment's `DeploymentResources`
and writes it when it changed (at most every `_WRITE_EVERY_SECONDS`, and at once when asked).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from console.core.measures.resources import ResourceFigures, size_text
from console.core.store.tables import UPSERT_STATE

if TYPE_CHECKING:
    from console.core.store.store import Store

_KEY = "resources:"


@dataclass(frozen=True, slots=True)
class DeploymentResources:
    """The most a deployment took, and its database size when last measured."""

    peak_cpu_percent: float | None = None
    peak_memory_bytes: int | None = None
    peak_block_write_bps: float | None = None
    peak_db_growth_bps: float | None = None
    final_db_size_bytes: int | None = None

    def folded(self, figures: ResourceFigures) -> DeploymentResources:
        return replace(
            self,
            peak_cpu_percent=_max(self.peak_cpu_percent, figures.cpu_percent),
            peak_memory_bytes=_max(self.peak_memory_bytes, figures.memory_bytes),
            peak_block_write_bps=_max(self.peak_block_write_bps, figures.block_write_bps),
            peak_db_growth_bps=_max(self.peak_db_growth_bps, figures.db_growth_bps),
            final_db_size_bytes=(
                figures.db_size_bytes
                if figures.db_size_bytes is not None
                else self.final_db_size_bytes
            ),
        )

    def summary(self) -> str:
        """'peak CPU 85 % of the host, peak memory 1.2 GiB, database 3.4 GiB'."""
        parts = []
        if self.peak_cpu_percent is not None:
            parts.append(f"peak CPU {self.peak_cpu_percent:.0f} % of the host")
        if self.peak_memory_bytes is not None:
            parts.append(f"peak memory {size_text(self.peak_memory_bytes)}")
        if self.final_db_size_bytes is not None:
            parts.append(f"database {size_text(self.final_db_size_bytes)}")
        return ", ".join(parts)


def _max(old: Any, new: Any) -> Any:
    if new is None:
        return old
    return new if old is None or new > old else old


def put_deployment_resources(store: Store, deployment_id: int, value: DeploymentResources) -> None:
    with store._db.write() as conn:
        conn.execute(UPSERT_STATE, (f"{_KEY}{deployment_id}", json.dumps(asdict(value))))


def deployment_resources(store: Store, ids: list[int]) -> dict[int, DeploymentResources]:
    """The recorded figures of these deployments (those with none are absent)."""
    if not ids:
        return {}
    keys = [f"{_KEY}{i}" for i in ids]
    marks = ", ".join("?" for _ in keys)
    with store._db.read() as conn:
        rows = conn.execute(f"SELECT key, value FROM state WHERE key IN ({marks})", keys).fetchall()
    known = {f.name for f in fields(DeploymentResources)}
    found: dict[int, DeploymentResources] = {}
    for row in rows:
        try:
            data = json.loads(row["value"])
            values = {k: v for k, v in data.items() if k in known}
            found[int(row["key"][len(_KEY) :])] = DeploymentResources(**values)
        except (ValueError, TypeError, AttributeError):
            continue  # a row this version cannot read is skipped, never fatal
    return found
