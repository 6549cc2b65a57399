"""The pure logic of resources and disk-before-done: stats frames → figures, growth, the disk
outlook and its gate condition, contention warnings, and how they are stored and shown."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from console.agent.metrics import resource_metrics
from console.cli.render_resources import RESOURCE_KEYS, resource_lines, resources_json
from console.core.config.coerce import ConfigError
from console.core.config.load import parse_config
from console.core.config.resources import memory_bytes, nano_cpus
from console.core.config.schema import ReadinessConfig
from console.core.gate.disk import (
    FREE_DISK_CONDITION,
    ContentionBaseline,
    DiskOutlook,
    LiveReading,
    contention_warning,
    disk_warning,
    free_disk_condition,
)
from console.core.gate.readiness import GateInputs, ReadinessGate
from console.core.measures.resources import (
    GrowthWindow,
    ResourceFigures,
    UsageSample,
    UsageWindow,
    disk_text,
    resources_text,
)
from console.core.model import SlotState, SlotStatus
from console.core.store.resources import (
    DeploymentResources,
    deployment_resources,
    put_deployment_resources,
)
from console.core.store.schema import slot_status_from_json, slot_status_to_json
from console.core.store.store import Store
from console.drivers.docker.stats import usage_sample

GiB = 1 << 30


def frame(total: int, pre_total: int, system: int, pre_system: int, **extra: object) -> dict:
    """A cgroup v2 stats frame, shaped like the engine's."""
    data: dict = {
        "read": "2026-12-02T01:00:01.123456789Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": total},
            "system_cpu_usage": system,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": pre_total}, "system_cpu_usage": pre_system},
        "memory_stats": {
            "usage": 300 << 20,
            "limit": 2 * GiB,
            "stats": {"inactive_file": 100 << 20, "anon": 150 << 20},
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": 4096},
                {"major": 8, "minor": 0, "op": "write", "value": 8192},
                {"major": 8, "minor": 16, "op": "write", "value": 8192},
            ]
        },
        "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}},
    }
    data.update(extra)
    return data


def test_a_stats_frame_is_read_as_the_docker_cli_does() -> None:
    # 0.5 s of CPU in 2 s of the host's (2 cores × 1 s): 25 % of the host, 50 % in docker stats.
    sample = usage_sample(frame(1_500_000_000, 1_000_000_000, 4_000_000_000, 2_000_000_000), 9.0)
    assert sample is not None
    assert sample.cpu_percent == pytest.approx(25.0)
    assert sample.memory_bytes == 200 << 20  # usage − inactive_file
    assert sample.memory_limit_bytes == 2 * GiB
    assert (sample.block_read_bytes, sample.block_write_bytes) == (4096, 16384)
    assert (sample.net_rx_bytes, sample.net_tx_bytes) == (1000, 500)
    assert sample.at == pytest.approx(1_796_173_201.123456, abs=1e-3)  # the engine's stamp


def test_the_first_frame_and_a_stopped_container_give_no_cpu() -> None:
    first = usage_sample(frame(5, 0, 100, 0), 1.0)
    assert first is not None and first.cpu_percent is None
    assert (
        usage_sample({"read": "0001-01-01T00:00:00Z", "cpu_stats": {}, "memory_stats": {}}, 1)
        is None
    )


def sample(at: float, read: int, write: int, cpu: float = 10.0) -> UsageSample:
    return UsageSample(at, cpu, 100, 1000, read, write, read // 2, write // 2)


def test_usage_window_rates_and_a_restarted_counter() -> None:
    window = UsageWindow(window_seconds=10)
    assert window.figures() is None
    for second in range(12):
        window.add(sample(float(second), 1000 * second, 2000 * second, cpu=float(second)))
    figures = window.figures()
    assert figures is not None
    assert figures.block_read_bps == pytest.approx(1000)
    assert figures.block_write_bps == pytest.approx(2000)
    assert figures.net_rx_bps == pytest.approx(500)
    assert figures.cpu_percent == pytest.approx(sum(range(1, 12)) / 11)  # the window's mean
    window.add(sample(12.0, 10, 10))  # a new process: counters back near zero
    again = window.figures()
    assert again is not None and again.block_read_bps is None and again.memory_bytes == 100


def test_growth_is_the_slope_over_its_window() -> None:
    growth = GrowthWindow(window_seconds=60)
    assert growth.growth_bps() is None
    for second in range(0, 100, 5):
        # 1 MB/s, with a batch committed in steps (every other reading repeats the size)
        growth.add(float(second), 1_000_000 * (second - second % 10))
    assert growth.size == 90_000_000
    assert growth.growth_bps() == pytest.approx(1_000_000, rel=0.1)


def test_disk_outlook_fills_before_caught_up() -> None:
    # 100 MiB free, growing 1 MiB/s: full in 100 s; catch-up in 300 s.
    outlook = DiskOutlook(100 << 20, float(1 << 20), 300.0, "budget 1.0 GiB")
    assert outlook.full_in_seconds == pytest.approx(100)
    assert outlook.fills_before_caught_up is True
    condition = free_disk_condition(outlook)
    assert condition.name == FREE_DISK_CONDITION == "free_disk_after_catchup"
    assert not condition.met
    assert (
        "fills before caught up" in condition.detail
        and "full in 1m40s, ETA 5m00s" in condition.detail
    )
    warning = disk_warning("green", outlook)
    assert warning is not None and "fills its budget 1.0 GiB before caught up" in warning


def test_disk_outlook_that_lasts_full_or_unknown() -> None:
    lasts = DiskOutlook(100 << 20, float(1 << 20), 50.0, "disk /data")
    assert lasts.fills_before_caught_up is False
    assert free_disk_condition(lasts).met
    assert "50.0 MiB left after catch-up" in free_disk_condition(lasts).detail
    assert disk_warning("green", lasts) is None
    full = DiskOutlook(-5, None, None, "budget 1.0 MiB")
    assert full.fills_before_caught_up is True
    assert free_disk_condition(full).detail == "budget 1.0 MiB is full"
    unknown = DiskOutlook(None, None, 10.0, "disk /data")
    assert unknown.fills_before_caught_up is None and not free_disk_condition(unknown).met
    caught_up = DiskOutlook(10, 5.0, None, "disk /data")  # no ETA: ready or not closing
    assert caught_up.fills_before_caught_up is None and free_disk_condition(caught_up).met


def gate_inputs(disk: DiskOutlook | None) -> GateInputs:
    return GateInputs(
        now=100.0,
        lag=0,
        sample_at=100.0,
        log_pattern_seen=None,
        health_ok=True,
        smoke_ok=None,
        smoke_detail="",
        height=10,
        live_height=None,
        is_live_candidate=True,
        disk=disk,
    )


def test_the_gate_holds_free_disk_after_catchup() -> None:
    config = ReadinessConfig(
        hold_seconds=0, log_pattern="", not_behind_live=False, leave_after_seconds=0
    )
    gate = ReadinessGate(config)
    assert gate.evaluate(gate_inputs(None)).ready
    assert FREE_DISK_CONDITION not in [c.name for c in gate.evaluate(gate_inputs(None)).conditions]
    result = gate.evaluate(gate_inputs(DiskOutlook(-1, 1.0, None, "budget 1 B")))
    assert not result.ready
    assert [c.name for c in result.conditions if not c.met] == [FREE_DISK_CONDITION]
    assert gate.evaluate(gate_inputs(DiskOutlook(1 << 30, 1.0, None, "disk /"))).ready


def test_contention_warns_only_on_real_degradation() -> None:
    baseline = ContentionBaseline()
    for _ in range(20):
        baseline.learn(LiveReading(40.0, 30.0))
    calm = LiveReading(60.0, 28.0)
    assert contention_warning("blue", "green", calm, baseline, 40.0) is None
    slow = LiveReading(400.0, 28.0)
    text = contention_warning("blue", "green", slow, baseline, 40.0)
    assert text is not None and "p99 latency is 400 ms while green syncs (was 40 ms)" in text
    starved = LiveReading(None, 10.0)
    text = contention_warning("blue", "green", starved, baseline, 85.0)
    assert text is not None and "green takes 85 %" in text and "fell to 10 %" in text
    assert contention_warning("blue", "green", starved, ContentionBaseline(), 85.0) is None


FIGURES = ResourceFigures(
    cpu_percent=42.4,
    memory_bytes=310 << 20,
    memory_limit_bytes=2 * GiB,
    block_read_bps=1024.0,
    block_write_bps=3 << 20,
    net_rx_bps=10.0,
    net_tx_bps=20.0,
    db_size_bytes=3 * GiB,
    db_growth_bps=float(2 << 20),
    disk_free_bytes=100 << 20,
    disk_full_in_seconds=50.0,
    fills_before_caught_up=True,
    warnings=("green's database fills its budget 3.1 GiB before caught up",),
)


def test_status_json_and_text() -> None:
    empty = resources_json(None)
    assert set(RESOURCE_KEYS) <= set(empty) and all(empty[k] is None for k in RESOURCE_KEYS)
    shown = resources_json(FIGURES)
    assert shown["cpu_percent"] == 42.4 and shown["db_size_bytes"] == 3 * GiB
    assert shown["fills_before_caught_up"] is True and len(shown["warnings"]) == 1
    assert (
        resources_text(FIGURES)
        == "cpu 42% · mem 310M/2.0G · rd 1.0K/s wr 3.0M/s · net ↓10B/s ↑20B/s"
    )
    disk = disk_text(FIGURES)
    assert disk == ("db 3.0G +2.0M/s · disk 100M free, full in 50s — fills before caught up")
    lines = resource_lines("green", FIGURES)
    assert len(lines) == 3 and lines[2].startswith("  green: ⚠ green's database")
    assert resource_lines("green", None) == []


def test_a_stored_status_keeps_its_resources() -> None:
    status = SlotStatus("green", SlotState.SYNCING, resources=FIGURES)
    back = slot_status_from_json(slot_status_to_json(status))
    assert back is not None and back.resources == FIGURES
    older = json.loads(slot_status_to_json(status))
    older["resources"]["from_a_newer_writer"] = 1
    newer = slot_status_from_json(json.dumps(older))
    assert newer is not None and newer.resources == FIGURES
    assert slot_status_from_json(slot_status_to_json(SlotStatus("blue"))).resources is None  # type: ignore[union-attr]


def test_deployment_peaks_fold_and_persist(tmp_path: Path) -> None:
    peaks = DeploymentResources().folded(FIGURES).folded(replace(FIGURES, cpu_percent=10.0))
    assert peaks.peak_cpu_percent == 42.4
    later = peaks.folded(replace(FIGURES, db_size_bytes=4 * GiB, memory_bytes=None))
    assert later.final_db_size_bytes == 4 * GiB and later.peak_memory_bytes == 310 << 20
    assert later.summary() == "peak CPU 42 % of the host, peak memory 310.0 MiB, database 4.0 GiB"
    store = Store.open(tmp_path)
    try:
        put_deployment_resources(store, 7, later)
        assert deployment_resources(store, [7, 8]) == {7: later}
        assert deployment_resources(store, []) == {}
    finally:
        store.close()


def test_resource_gauges_per_colour() -> None:
    statuses = {"green": SlotStatus("green", resources=FIGURES), "blue": SlotStatus("blue")}
    families = {family.name: family for family in resource_metrics(statuses)}  # type: ignore[arg-type]
    cpu = families["bluegreen_slot_cpu_host_percent"]
    assert [(s.labels, s.value) for s in cpu.samples] == [({"color": "green"}, 42.4)]
    assert families["bluegreen_slot_disk_free_bytes"].samples[0].value == 100 << 20
    doc = (Path(__file__).parents[2] / "docs" / "METRICS.md").read_text()
    for name in families:
        assert f"`{name}`" in doc


CONFIG = """
[image]
repository = "x"
{image}
[slots.blue]
container = "b"
host_port = 1
{blue}
[slots.green]
container = "g"
host_port = 2
"""


def test_limits_and_disk_keys_are_checked() -> None:
    assert memory_bytes("512m") == 512 << 20 and memory_bytes("2GiB") == 2 * GiB
    assert memory_bytes("") is None and memory_bytes("1048576") == 1 << 20
    assert nano_cpus(1.5) == 1_500_000_000 and nano_cpus(0) is None
    ok = parse_config(
        CONFIG.format(image='cpus = 1.5\nmemory = "2g"', blue="disk_budget_bytes = 5")
    )
    assert ok.image.cpus == 1.5 and ok.slot("blue").disk_budget_bytes == 5
    with pytest.raises(ConfigError, match=r"image.memory = .2q. is not a size"):
        parse_config(CONFIG.format(image='memory = "2q"', blue=""))
    with pytest.raises(ConfigError, match="both disk_path and disk_budget_bytes"):
        parse_config(CONFIG.format(image="", blue='disk_path = "/"\ndisk_budget_bytes = 5'))


def test_a_cgroup_v1_frame_counts_memory_without_the_page_cache() -> None:
    v1 = frame(2, 1, 4, 2)
    v1["memory_stats"] = {
        "usage": 50 << 20,
        "limit": GiB,
        "stats": {"inactive_file": 0, "total_inactive_file": 10 << 20, "cache": 12 << 20},
    }
    parsed = usage_sample(v1, 0.0)
    assert parsed is not None and parsed.memory_bytes == 40 << 20


def test_panel_lines_fit_and_say_fills_before_caught_up() -> None:
    from console.tui.widgets.resource_lines import compact_line, cpu_sparkline, disk_line

    assert cpu_sparkline((0.0, 50.0, 100.0, 12.5)) == "▁▅█▂"
    assert len(cpu_sparkline(tuple(float(i) for i in range(100)))) == 8
    history = replace(FIGURES, cpu_history=(10.0,) * 40)
    compact = compact_line(history).plain
    assert "fills before caught up" in compact and len(compact) <= 78, compact
    # The disk's own warning is not repeated on the panel; a contention warning is.
    assert "⚠" not in disk_line(FIGURES).plain
    contention = replace(FIGURES, warnings=("blue's p99 latency is 400 ms while green syncs",))
    assert "⚠ blue's p99" in disk_line(contention).plain
