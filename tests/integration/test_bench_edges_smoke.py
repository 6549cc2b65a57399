"""bench/edges_switch.py end to end in a tiny configuration (one killed, one hung edge): what it
reports, never how fast anything was (docs/BENCHMARKS.md holds the figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_bench_smoke import run_bench

pytestmark = pytest.mark.integration


def test_edges_switch_counts_agreeing_trials_and_the_mixed_window(tmp_path: Path) -> None:
    data = run_bench("edges_switch", tmp_path, "--trials", "2", "--faults", "kill,hang")
    assert data["trials"] == 2
    assert data["agreeing"] == 2  # both edges end on one colour after each failure
    rows = {row["fault"]: row for row in data["rows"]}
    assert set(rows) == {"kill", "hang"}
    for row in rows.values():
        assert row["trials"] == 1 and row["mixed_p95_ms"] is not None
        # A failed switch names the failed edge's host in its one paragraph.
        assert row["messages_naming_host"] == row["failed_switches"]
