"""`[resources]`: what the agent measures per colour, and the candidate's own limits' parsing.

Per colour, `[slots.X] disk_path` (the database's data directory on this host: statvfs) or
`disk_budget_bytes` (a remote database: the space it may use) says where the database lives, for
the `free_disk_after_catchup` gate condition. `[image] cpus` / `memory` cap the candidate's
container (Docker's `nano_cpus` / `mem_limit`), so an operator can keep a re-index from starving
the live colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class ResourcesConfig:
    # Off: no stats stream and no database size (the agent's cost with them is in
    # docs/BENCHMARKS.md, resource_cost).
    stats: bool = True
    # How often each colour's database size is read (pg_database_size walks its files).
    db_size_interval_seconds: float = 5.0
    # Warn when the live colour degrades while the candidate syncs (p99, CPU share).
    contention_warning: bool = True


def memory_bytes(value: str) -> int | None:
    """'512m', '2g', '1.5GiB', '1073741824' → bytes; '' → None (no limit); ValueError if bad."""
    if not value.strip():
        return None
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(value)
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def nano_cpus(cpus: float) -> int | None:
    """Docker's `nano_cpus` for `cpus` cores; 0 → None (no limit)."""
    return int(cpus * 1_000_000_000) if cpus > 0 else None


def resource_problems(resources: ResourcesConfig, cpus: float, memory: str) -> list[str]:
    """`[resources]` and the candidate's limits (`image.cpus`, `image.memory`), as phrases."""
    problems: list[str] = []
    if cpus < 0:
        problems.append("image.cpus must be 0 (no limit) or a number of cores, e.g. 1.5")
    try:
        limit = memory_bytes(memory)
    except ValueError:
        problems.append(f'image.memory = {memory!r} is not a size: write e.g. "512m" or "2g"')
    else:
        if limit is not None and limit < 6 << 20:
            problems.append("image.memory is below Docker's minimum of 6m")
    if resources.db_size_interval_seconds <= 0:
        problems.append("resources.db_size_interval_seconds must be above 0")
    return problems


def disk_problems(color: str, disk_path: str, disk_budget_bytes: int) -> list[str]:
    """What `[slots.<color>]`'s disk keys get wrong, as phrases."""
    problems: list[str] = []
    if disk_path and disk_budget_bytes:
        problems.append(
            f"slots.{color} has both disk_path and disk_budget_bytes: keep disk_path for a "
            "database on this host, disk_budget_bytes for a remote one"
        )
    if disk_budget_bytes < 0:
        problems.append(f"slots.{color}.disk_budget_bytes must be 0 (none) or more")
    return problems
