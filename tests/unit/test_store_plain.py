"""The statuses' serialisation without `dataclasses.asdict` writes the same text as with it."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from console.core.measures.parity import ParityReport, ParityResult
from console.core.measures.resources import ResourceFigures
from console.core.measures.traffic import TrafficFigures
from console.core.model import Condition, PartReading, SlotState, SlotStatus
from console.core.replicas import ReplicaStatus, TaskStatus
from console.core.store.plain import plain
from console.core.store.schema import slot_status_from_json, slot_status_to_json

_FULL = SlotStatus(
    "green",
    SlotState.SYNCING,
    image="app:2",
    version="2",
    deployment_id=7,
    container_state="running",
    healthy=True,
    started_at=1.5,
    restart_count=2,
    height=100,
    head=120,
    lag=20,
    progress=0.5,
    speed=3.25,
    head_speed=0.1,
    eta_seconds=6.0,
    conditions=(Condition("lag ≤ 2 for 5 s", False, "lag 20"), Condition("healthy", True)),
    reason="catching up — «quoted»",
    updated_at=1e9,
    readings=(
        PartReading("docker", "Docker", 1e9, error="Docker unavailable"),
        PartReading("checks", "the green checks", 0.0, waiting_since=2.0, stale_after=9.0),
    ),
    traffic=TrafficFigures(rps=1.0, error_rate=0.0, requests_total=5, window_requests=3),
    resources=ResourceFigures(cpu_percent=1.5, memory_bytes=10, fills_before_caught_up=False),
    parity=ParityReport(
        90, 2, (ParityResult("balance", "match", "1", "1"),), 5.0, blue_height=90, error=None
    ),
    replicas=ReplicaStatus(
        3, (TaskStatus("abc", "node1", "running", "running", counted=True),), ("node2",)
    ),
)


@pytest.mark.parametrize(
    "status",
    [SlotStatus("blue"), SlotStatus("blue", SlotState.LIVE, healthy=False, reason=None), _FULL],
)
def test_a_status_reads_as_with_asdict(status: SlotStatus) -> None:
    before = asdict(status)
    before["state"] = status.state.value
    assert slot_status_to_json(status) == json.dumps(before)
    assert slot_status_from_json(slot_status_to_json(status)) == status


def test_containers_and_leaves_as_asdict_leaves_them() -> None:
    reading = PartReading("proxy", "the proxy", 1.0)
    value = {"a": [reading, (1, "x", None)], "b": {"c": 2.5, "d": True}}
    assert json.dumps(plain(value)) == json.dumps(value | {"a": [asdict(reading), [1, "x", None]]})
    assert json.dumps(plain(reading)) == json.dumps(asdict(reading))
