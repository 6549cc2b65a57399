"""Each benchmark runs end to end in a tiny configuration, so CI proves the suite still works.

These assert what the benchmarks report, never how fast anything was: timing belongs to
docs/BENCHMARKS.md, not to a test that a busy CI machine could fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run_bench(name: str, results: Path, *args: str, timeout: float = 300) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "BLUEGREEN_BENCH_RESULTS": str(results)},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    data: dict[str, Any] = json.loads((results / f"{name}.json").read_text())
    assert data["benchmark"] == name
    assert data["machine"]["nproc"] >= 1
    return data


@pytest.mark.skipif(shutil.which("hey") is None, reason="hey is not installed")
def test_switch_under_load_counts_requests_and_switches(tmp_path: Path) -> None:
    data = run_bench(
        "switch_under_load",
        tmp_path,
        "--switches",
        "3",
        "--rate",
        "200",
        "--websockets",
        "10",
        "--ws-switches",
        "2",
        "--linger-timeout",
        "2",
    )
    methods = data["methods"]
    assert set(methods) == {"nginx-live", "nginx-reload", "haproxy", "old-script"}
    for name, figures in methods.items():
        assert figures["requests"] > 50, name
        assert figures["switches"] == 3 and figures["missed"] == 0, name
        assert len(figures["cutover_samples_ms"]) == 2, name
        assert len(figures["rollback_samples_ms"]) == 1, name
        assert figures["websocket_phase"]["websockets"] == 10, name
    # Correctness, not speed: switching without a reload never fails a request.
    assert methods["nginx-live"]["failed"] == 0
    assert methods["haproxy"]["failed"] == 0
    assert methods["nginx-live"]["websocket_phase"]["websockets_closed_by_proxy"] == 0


@pytest.mark.skipif(shutil.which("hey") is None, reason="hey is not installed")
def test_fleet_switch_measures_both_services_behind_one_proxy(tmp_path: Path) -> None:
    args = ("--switches", "2", "--rate", "100", "--interval", "0.1")
    rows = run_bench("fleet_switch", tmp_path, *args, "--rows", "nginx-live,haproxy")["rows"]
    assert set(rows) == {"nginx-live", "haproxy"}
    for name, figures in rows.items():
        assert figures["a_requests"] > 20 and figures["b_requests"] > 20, name
        assert figures["switches"] == 2 and figures["missed"] == 0, name
        assert len(figures["a_cutover_samples_ms"]) == 2, name
        # b's counters saw its own load, all on its live colour (measured by the proxy).
        assert figures["b_served_by_colour"]["green"] > 20, name
        # Correctness, not speed: a's switches never fail a request or move b.
        assert figures["a_failed"] == 0 and figures["b_failed"] == 0, name
        assert figures["b_other_colour_answers"] == 0, name
        assert figures["b_probe_other_colour"] == 0 and figures["b_live_after"] == "green", name


def test_sampling_cost_uses_the_index(tmp_path: Path) -> None:
    # Under /var/tmp: the postgres user must traverse the cluster's parents.
    root = Path(tempfile.mkdtemp(prefix="bgbench-pg-smoke-", dir="/var/tmp"))
    try:
        data = run_bench(
            "sampling_cost",
            tmp_path,
            "--rows",
            "10000",
            "--samples",
            "20",
            "--root",
            str(root),
            "--port",
            "29051",
            "--stop",
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert data["rows"] == 10_000
    assert data["index_only_scan_backward"] is True
    for key in ("new", "new_max_query", "old_psql"):
        assert data["samples_ms"][key]["n"] == 20


def test_parity_bench_runs_both_checks_on_the_index(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="bgbench-pg-smoke-", dir="/var/tmp"))
    try:
        data = run_bench(
            "parity", tmp_path, "--rows", "10000", "--runs", "5",
            "--root", str(root), "--port", "29052", "--stop",
        )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert data["rows"] == 10_000 and data["runs"] == 5
    assert set(data["figures"]) == {"block hash", "last 1000 hashes", "both checks (the sandbox's)"}
    assert all("explorer_block_details_pkey" in plan for plan in data["plans"].values())


def test_catchup_detection_times_a_real_deploy(tmp_path: Path) -> None:
    data = run_bench(
        "catchup_detection",
        tmp_path,
        "--runs",
        "1",
        "--history",
        "1500",
        "--old-iterations",
        "1",
        timeout=600,
    )
    (run,) = data["runs"]
    # Ordering the timeline must respect, whatever the speed of the machine.
    assert run["gate_met_after_deploy_s"] >= run["low_lag_since_after_deploy_s"] + 3.0 - 0.06
    # The agent may not mark ready before the watcher saw the gate's conditions hold.
    assert run["premature_ready"] is False, run["unmet_at_ready"]
    assert run["ready_after_deploy_s"] >= run["gate_met_after_deploy_s"]
    assert run["old_detect_after_deploy_s"] >= 120.0
    (poll,) = data["old_real_commands"]
    assert poll["grep_matches"] >= 1
    assert poll["heights"]["green"] > 1000


def test_at_head_counts_flaps_etas_notifications_and_refusals(tmp_path: Path) -> None:
    data = run_bench(
        "at_head",
        tmp_path,
        "--minutes",
        "0.5",
        "--burst",
        "5",
        "--attempts",
        "2",
        "--history",
        "1500",
        timeout=600,
    )
    assert data["readings"] > 60
    # Both colours followed the (bursty) head throughout: every reading of both was counted.
    assert data["not_caught_up_readings"] == {"blue": 0, "green": 0}
    # Correctness, not speed: a caught-up colour never leaves ready, shows no ETA, sends nothing.
    assert data["ready_to_not_ready"] == {"blue": 0, "green": 0}, data["flaps"]
    assert data["eta_readings"] == {"blue": 0, "green": 0}
    assert data["not_at_head_readings"] == {"blue": 0, "green": 0}
    assert data["notifications"] == 0, data["notification_texts"]
    attempts = data["attempts"]
    assert attempts["made"] == {"canary": 1, "switch": 1}
    assert attempts["refused"] == 0 and attempts["failures"] == [], attempts


def test_analysis_rollback_times_a_real_automatic_rollback(tmp_path: Path) -> None:
    data = run_bench("analysis_rollback", tmp_path, "--runs", "1", "--rate", "60", timeout=400)
    (run,) = data["runs"]
    assert run["rolled_back"] is True and run["polls"] >= data["failure_limit"]
    assert run["recover_s"] is not None and run["recover_s"] > 0
    assert 0 < run["failed_meanwhile"] <= run["answered_meanwhile"]
    assert run["failed_after"] == 0  # once back on the old colour, nothing fails


def test_status_consistency_polls_status_beside_switches(tmp_path: Path) -> None:
    data = run_bench("status_consistency", tmp_path, "--operations", "10", timeout=300)
    assert data["readings"]["status"] >= 10 and data["readings"]["metrics"] >= 1
    assert data["disagreeing"] == {"status": 0, "metrics": 0}, data["examples"]
    assert data["operations_failed"] == []


def test_fleet_agent_measures_the_one_agent_over_one_and_two_services(tmp_path: Path) -> None:
    from tests import ports

    data = run_bench(
        "fleet_agent",
        tmp_path,
        "--counts", "1,2", "--seconds", "3", "--settle", "4", "--tick-seconds", "2",
        "--port-base", str(ports.BENCH_FLEET_AGENT.start),
        timeout=480,
    )  # fmt: skip
    one, two = data["rows"]
    assert (one["services"], two["services"]) == (1, 2)
    assert one["services_reporting_ticks"] == ["web01"]
    assert two["services_reporting_ticks"] == ["web01", "web02"]
    for row in (one, two):
        assert row["cpu_percent"] > 0 and row["rss_mb"] > 10 and row["tick_samples"] > 0
        assert row["cpu_percent_scraped_each_second"] > 0
        assert 0 < row["tick_max_ms"] < 60_000
    assert one["cpu_percent_per_service"] is None and two["rss_mb_per_service"] is not None


@pytest.mark.skipif(shutil.which("hey") is None, reason="hey is not installed")
def test_swarm_switch_counts_failures_and_premature_readies(tmp_path: Path) -> None:
    data = run_bench(
        "swarm_switch", tmp_path, "--switches", "2", "--trials", "1", "--rate", "100",
        timeout=600,
    )  # fmt: skip
    assert set(data["switches"]) == {"swarm-3x3", "swarm-3x3-haproxy", "single-host"}
    for name, row in data["switches"].items():
        assert row["requests"] > 20 and row["switches"] == 2, name
        assert row["failed"] == 0 and row["missed"] == 0, (name, row)
    failures = data["node_failures"]
    assert failures["trials"] == 1 and failures["ready_again"] == 1
    assert failures["premature_readies"] == 0 and failures["readings"] >= 3
