"""The state database's schema (versioned migrations) and row ↔ model conversions."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any

from console.core.measures.parity import report_from_json
from console.core.measures.resources import resource_figures
from console.core.measures.traffic import TrafficFigures
from console.core.model import (
    COLORS,
    Color,
    Condition,
    Deployment,
    EventRecord,
    PartReading,
    Phase,
    SlotState,
    SlotStatus,
    SwitchPolicy,
)
from console.core.replicas import replica_status_from_json
from console.core.store.plain import plain

# Append-only: entry i takes the schema from `PRAGMA user_version` i to i+1. Never edit a shipped
# entry; add a new one (ALTER TABLE …) and a test that opens a database of the previous version.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE deployments (
            id INTEGER PRIMARY KEY AUTOINCREMENT, color TEXT NOT NULL, image TEXT NOT NULL,
            version TEXT NOT NULL, policy TEXT NOT NULL, phase TEXT NOT NULL, actor TEXT NOT NULL,
            created_at REAL NOT NULL, phases TEXT NOT NULL DEFAULT '{}', outcome TEXT,
            env TEXT NOT NULL DEFAULT '{}', target_height INTEGER, start_height INTEGER,
            cutover_ms REAL)""",
        "CREATE INDEX deployments_color ON deployments (color, id)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL,
            level TEXT NOT NULL, text TEXT NOT NULL, actor TEXT NOT NULL, color TEXT,
            deployment_id INTEGER)""",
        """CREATE TABLE samples (
            color TEXT NOT NULL, at REAL NOT NULL, head INTEGER, height INTEGER)""",
        "CREATE INDEX samples_color_at ON samples (color, at)",
        """CREATE TABLE slot_status (
            color TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL)""",
        """CREATE TABLE metrics (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, value REAL NOT NULL,
            at REAL NOT NULL, labels TEXT NOT NULL DEFAULT '{}')""",
        "CREATE INDEX metrics_name_at ON metrics (name, at)",
        "CREATE TABLE heartbeats (component TEXT PRIMARY KEY, at REAL NOT NULL)",
    ),
    (  # 1 → 2: a deploy freeze and maintenance mode, one row each (store/holds.py)
        """CREATE TABLE holds (
            kind TEXT PRIMARY KEY, message TEXT NOT NULL, actor TEXT NOT NULL,
            since REAL NOT NULL, until REAL, retry_after INTEGER)""",
    ),
    (  # 2 → 3: hook runs (store/hook_runs.py)
        """CREATE TABLE hook_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, stage TEXT NOT NULL,
            name TEXT NOT NULL, kind TEXT NOT NULL, color TEXT, deployment_id INTEGER,
            actor TEXT NOT NULL, timeout_seconds REAL NOT NULL, seconds REAL, exit_code INTEGER,
            timed_out INTEGER NOT NULL DEFAULT 0, error TEXT,
            last_lines TEXT NOT NULL DEFAULT '[]')""",
        "CREATE INDEX hook_runs_deployment ON hook_runs (deployment_id, stage)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

TERMINAL_PHASES: frozenset[Phase] = frozenset(
    {Phase.FAILED, Phase.CANCELLED, Phase.RETIRED, Phase.ROLLED_BACK}
)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One stored measurement, e.g. ("switch_cutover_ms", 12.5, at, {"to": "green"})."""

    name: str
    value: float
    at: float
    labels: dict[str, str]


def as_color(value: object) -> Color | None:
    """A stored colour, or None for NULL or anything unexpected."""
    return value if value in COLORS else None


def deployment_from_row(row: sqlite3.Row) -> Deployment:
    return Deployment(
        id=row["id"],
        color=row["color"],
        image=row["image"],
        version=row["version"],
        policy=SwitchPolicy(row["policy"]),
        phase=Phase(row["phase"]),
        actor=row["actor"],
        created_at=row["created_at"],
        phases={str(k): float(v) for k, v in json.loads(row["phases"]).items()},
        outcome=row["outcome"],
        env={str(k): str(v) for k, v in json.loads(row["env"]).items()},
        target_height=row["target_height"],
        start_height=row["start_height"],
        cutover_ms=row["cutover_ms"],
    )


def event_from_row(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        id=row["id"],
        at=row["at"],
        kind=row["kind"],
        level=row["level"],
        text=row["text"],
        actor=row["actor"],
        color=as_color(row["color"]),
        deployment_id=row["deployment_id"],
    )


def slot_status_to_json(status: SlotStatus) -> str:
    data = plain(status)  # as `asdict` writes it: conditions become a list of dicts
    data["state"] = status.state.value
    return json.dumps(data)


def slot_status_from_json(text: str) -> SlotStatus | None:
    """Parse a stored status; None if it is not one. Keys from a newer writer are ignored."""
    data: Any = json.loads(text)
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(SlotStatus)}
    values = {key: value for key, value in data.items() if key in known}
    if as_color(values.get("color")) is None:
        return None
    try:
        values["state"] = SlotState(values.get("state", SlotState.EMPTY.value))
        values["conditions"] = tuple(Condition(**c) for c in values.get("conditions", ()))
        values["readings"] = tuple(PartReading(**r) for r in values.get("readings", ()))
        traffic = values.get("traffic")
        values["traffic"] = TrafficFigures(**traffic) if isinstance(traffic, dict) else None
        values["resources"] = resource_figures(values.get("resources"))
        values["parity"] = report_from_json(values.get("parity"))
        values["replicas"] = replica_status_from_json(values.get("replicas"))
    except (TypeError, ValueError):
        return None
    return SlotStatus(**values)
