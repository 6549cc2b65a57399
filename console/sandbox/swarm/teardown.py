"""Taking a Swarm bed down: every engine with what it started, the cgroup directories, the
namespaces, veths, bridge and FORWARD rule, the data directories and the record — from the spec
alone, so it works after a crash half-way and a second time (it is idempotent). The host's own
Docker Engine and its containers are never touched: nothing here talks to it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

from console.sandbox.swarm.engines import kill_engine, remove_cgroups
from console.sandbox.swarm.links import remove_links
from console.sandbox.swarm.spec import RECORD_FILE, RECORDS, BedSpec, record_path


def _quiet(line: str) -> None:
    return None


def down(spec: BedSpec, say: Callable[[str], None] = _quiet) -> list[str]:
    """Remove everything bed `spec` made; return what could not be removed (empty: all gone)."""
    left: list[str] = []
    for name in spec.names:
        alive = kill_engine(name, spec.node_dir(name))
        left += [f"process {pid} of node {name}" for pid in alive]
    for name in spec.names:
        left += remove_cgroups(name)
    left += remove_links(spec.bridge, spec.names)
    shutil.rmtree(spec.directory, ignore_errors=True)
    if spec.directory.exists():
        left.append(f"directory {spec.directory}")
    if not left:
        with contextlib.suppress(FileNotFoundError):
            record_path(spec.prefix).unlink()
        say(f"Swarm bed {spec.prefix} removed ({len(spec.names)} nodes, {spec.subnet}.0/24).")
    else:
        say(f"Swarm bed {spec.prefix} only partly removed; still there: {'; '.join(left)}.")
    return left


def down_at(directory: Path, say: Callable[[str], None] = _quiet) -> list[str]:
    """Remove the bed recorded in `directory` (nothing if none is recorded there)."""
    try:
        spec = BedSpec.from_record((directory / RECORD_FILE).read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return down(spec, say)


def down_all(say: Callable[[str], None] = _quiet) -> list[str]:
    """Remove every bed this machine recorded (`./dev clean`: beds a crashed run left)."""
    left: list[str] = []
    for record in sorted(RECORDS.glob("*.json")):
        try:
            spec = BedSpec.from_record(record.read_text())
        except (OSError, ValueError, TypeError, KeyError) as exc:
            left.append(f"record {record} ({exc})")
            continue
        left += down(spec, say)
    return left
