"""How `status` and `history` show resources: the JSON keys, and the lines of text."""

from __future__ import annotations

from typing import Any

from console.core.measures.resources import ResourceFigures, disk_text, resources_text
from console.core.store.resources import DeploymentResources

RESOURCE_KEYS = (
    "cpu_percent", "memory_bytes", "memory_limit_bytes", "block_read_bps", "block_write_bps",
    "db_size_bytes", "db_growth_bps",
)  # fmt: skip
EXTRA_KEYS = (
    "net_rx_bps", "net_tx_bps", "disk_free_bytes", "disk_full_in_seconds",
    "fills_before_caught_up",
)  # fmt: skip


def resources_json(figures: ResourceFigures | None) -> dict[str, Any]:
    """The slot's resources; every key null where not measured. CPU is % of the whole host."""
    if figures is None:
        return {**dict.fromkeys(RESOURCE_KEYS + EXTRA_KEYS), "warnings": []}
    out: dict[str, Any] = {key: getattr(figures, key) for key in RESOURCE_KEYS + EXTRA_KEYS}
    for key, value in out.items():
        if isinstance(value, float):
            out[key] = round(value, 2)
    out["warnings"] = list(figures.warnings)
    return out


def resource_lines(color: str, figures: ResourceFigures | None) -> list[str]:
    """`status` text: one line of usage, one of database and disk, one per warning."""
    if figures is None:
        return []
    lines = [f"  {color}: {resources_text(figures)}"]
    disk = disk_text(figures)
    if disk:
        lines.append(f"  {color}: {disk}")
    lines += [f"  {color}: ⚠ {warning}" for warning in figures.warnings]
    return lines


def deployment_resources_json(value: DeploymentResources | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "peak_cpu_percent": _round(value.peak_cpu_percent),
        "peak_memory_bytes": value.peak_memory_bytes,
        "peak_block_write_bps": _round(value.peak_block_write_bps),
        "peak_db_growth_bps": _round(value.peak_db_growth_bps),
        "final_db_size_bytes": value.final_db_size_bytes,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
