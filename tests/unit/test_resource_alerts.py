"""The agent's resource pieces without Docker: the disk outlook from a real statvfs, and the
alerts — contention on the live status, a disk warning recorded and notified once (again after it
cleared), peaks stored and summarised when the deployment is ready."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from console.agent.resource_alerts import ResourceAlerts
from console.agent.resource_watch import ResourceWatch
from console.agent.slot_compose import TickInputs
from console.core.config.load import parse_config
from console.core.measures.resources import ResourceFigures
from console.core.measures.traffic import TrafficFigures
from console.core.model import Color, SlotState, SlotStatus
from console.core.store.resources import deployment_resources
from console.core.store.store import Store

CONFIG = """
service = "svc"
[image]
repository = "x"
[slots.blue]
container = "b"
host_port = 1
disk_path = "{path}"
[slots.green]
container = "g"
host_port = 2
disk_budget_bytes = 1000
"""


T0 = 1_700_000_000.0


class WebhookNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, kind: str, text: str, level: str = "info") -> None:
        self.sent.append((kind, text, level))


def installation(tmp_path: Path) -> SimpleNamespace:
    config = parse_config(CONFIG.format(path=tmp_path))
    return SimpleNamespace(
        config=config, store=Store.open(tmp_path / "state"), notifier=WebhookNotifier()
    )


def no_runtime() -> Any:
    raise AssertionError("no container runs here: the engine is never asked for")


def resource_watch(inst: SimpleNamespace, color: Color) -> ResourceWatch:
    slot = inst.config.slot(color)
    return ResourceWatch(color, slot, inst.config.resources, no_runtime, 3.0)


def alerts_of(inst: SimpleNamespace) -> ResourceAlerts:
    config = inst.config
    return ResourceAlerts(
        config.resources,
        inst.store,
        inst.notifier,
        alarm_after=config.notify.alarm_after_seconds,
        service=config.service,
        actor="agent",
    )


def annotate(
    alerts: ResourceAlerts,
    status: SlotStatus,
    live: Color,
    previous: dict[Color, SlotStatus],
) -> SlotStatus:
    return alerts.annotate(status, TickInputs(live, previous, None, None, None, None))


def test_disk_path_is_read_with_statvfs(tmp_path: Path) -> None:
    inst = installation(tmp_path)
    watch = resource_watch(inst, "blue")
    stat = os.statvfs(tmp_path)
    outlook = watch.outlook(None)
    assert outlook is not None and outlook.where == f"disk {tmp_path}"
    assert abs(outlook.free_bytes - stat.f_bavail * stat.f_frsize) < 64 << 20  # type: ignore[operator]
    figures = watch.figures(None)
    assert figures is not None and figures.disk_free_bytes is not None
    budget = resource_watch(inst, "green")
    assert budget.outlook(100.0) is not None and budget.outlook(100.0).free_bytes is None  # type: ignore[union-attr]
    budget.growth.add(1.0, 2000)  # over budget
    assert budget.outlook(100.0).fills_before_caught_up is True  # type: ignore[union-attr]
    inst.store.close()


def disk_full(deployment_id: int, state: SlotState = SlotState.SYNCING) -> SlotStatus:
    return SlotStatus(
        "green",
        state,
        version="v2",
        deployment_id=deployment_id,
        resources=ResourceFigures(
            cpu_percent=60.0,
            memory_bytes=100,
            db_size_bytes=2000,
            fills_before_caught_up=True,
            warnings=("green's database budget 1000 B is full: the catch-up cannot finish.",),
        ),
    )


def test_a_disk_warning_is_sent_once_until_it_clears(tmp_path: Path) -> None:
    inst = installation(tmp_path)
    alerts = alerts_of(inst)
    alerts.alarm_after = 0.0
    for tick in range(3):
        alerts.after_tick({"green": disk_full(7)}, T0 + tick)
    assert [kind for kind, _, level in inst.notifier.sent] == ["resources"]
    cleared = replace(disk_full(7), resources=ResourceFigures(cpu_percent=10.0))
    alerts.after_tick({"green": cleared}, T0 + 3)
    assert inst.notifier.sent[-1][1] == "svc: green's disk warning cleared."
    alerts.after_tick({"green": disk_full(7)}, T0 + 4)
    assert len(inst.notifier.sent) == 3
    events = [e for e in inst.store.events() if e.kind == "resources"]
    assert [e.level for e in events] == ["warning", "info", "warning"]
    assert events[0].deployment_id == 7
    ready = replace(cleared, state=SlotState.READY)
    alerts.after_tick({"green": ready}, T0 + 5)
    summary = inst.notifier.sent[-1][1]
    assert summary == (
        "svc: green (v2) caught up using peak CPU 60 % of the host, peak memory 100 B, "
        "database 2.0 KiB."
    )
    assert deployment_resources(inst.store, [7])[7].peak_cpu_percent == 60.0
    inst.store.close()


def test_an_alarm_is_sent_only_once_it_has_held_its_window(tmp_path: Path) -> None:
    inst = installation(tmp_path)
    alerts = alerts_of(inst)
    assert alerts.alarm_after == 120.0  # [notify] alarm_after_seconds' default
    # One odd reading (a near-zero closing speed once gave "catch-up ETA 46.8h") and it is gone:
    # nothing recorded, nothing sent, and no "cleared" for an alarm never raised.
    alerts.after_tick({"green": disk_full(7)}, T0)
    alerts.after_tick({"green": replace(disk_full(7), resources=None)}, T0 + 1)
    # Back, and held: sent once its window has passed since it came back, saying for how long.
    for tick in range(2, 122):
        alerts.after_tick({"green": disk_full(7)}, T0 + tick)
    assert inst.notifier.sent == []
    alerts.after_tick({"green": disk_full(7)}, T0 + 122)
    assert len(inst.notifier.sent) == 1
    assert inst.notifier.sent[0][1].endswith("cannot finish. (for 2m00s)"), inst.notifier.sent
    inst.store.close()


def test_contention_is_a_warning_on_the_live_status(tmp_path: Path) -> None:
    inst = installation(tmp_path)
    alerts = alerts_of(inst)
    live = SlotStatus(
        "blue",
        SlotState.LIVE,
        traffic=TrafficFigures(p99_ms=40.0),  # type: ignore[call-arg]
        resources=ResourceFigures(cpu_percent=30.0),
    )
    idle = {"green": SlotStatus("green", SlotState.EMPTY)}
    for _ in range(10):
        assert annotate(alerts, live, "blue", idle) is live  # learning the baseline
    syncing = {"green": disk_full(8)}
    slow = replace(live, traffic=TrafficFigures(p99_ms=500.0))  # type: ignore[call-arg]
    warned = annotate(alerts, slow, "blue", syncing)
    assert warned.resources is not None and "p99 latency is 500 ms" in warned.resources.warnings[0]
    assert annotate(alerts, disk_full(8), "blue", syncing).resources == disk_full(8).resources
    inst.store.close()
