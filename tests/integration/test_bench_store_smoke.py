"""Smoke forms of the benchmarks that share nothing with other modules (so they run side by side,
unlike test_bench_smoke.py): the shared store's and its fence's (a few trials on their own
PostgreSQL, their own ports) and redaction's (pure CPU). The published figures keep a working
way to reproduce them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import ports
from tests.integration.test_bench_smoke import run_bench

pytestmark = pytest.mark.integration


def test_shared_store_bench_measures_takeovers_visibility_and_ticks(tmp_path: Path) -> None:
    data = run_bench(
        "shared_store", tmp_path, "--trials", "3", "--ticks", "20",
        "--port", str(ports.STORE_BENCH), timeout=180,
    )  # fmt: skip
    assert len(data["lock_takeover_s"]) == 3 and len(data["lease_takeover_s"]) == 3
    assert all(0 < s < 30 for s in data["lock_takeover_s"] + data["lease_takeover_s"])
    assert len(data["visibility_s"]) == 3  # each console woken by the commit, not its timeout
    assert len(data["tick_ms"]["sqlite"]) == len(data["tick_ms"]["postgresql"]) == 20


def test_redaction_bench_times_a_reindex_stream(tmp_path: Path) -> None:
    data = run_bench("redaction", tmp_path, "--lines", "2000", timeout=120)
    assert set(data["us_per_line"]) == {"str.replace (floor)", "redact", "sanitize + redact"}
    assert all(value > 0 for value in data["us_per_line"].values())


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_store_fence_bench_counts_no_mutation_by_a_cut_off_leader(tmp_path: Path) -> None:
    data = run_bench(
        "store_fence", tmp_path, "--trials", "2", "--port", str(ports.STORE_FENCE_BENCH),
        timeout=240,
    )  # fmt: skip
    assert data["mutations"] == [0, 0]  # read from the leader's proxy files after each takeover
    assert len(data["failover_s"]) == 2 and all(0 < s < 60 for s in data["failover_s"])
