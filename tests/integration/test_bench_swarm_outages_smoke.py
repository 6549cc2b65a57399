"""bench/swarm_outages.py end to end with one trial of its two short kinds (its own Swarm bed;
the link-warm-up kind waits ~15 s for the manager, test_swarm_link_down does it): it reports what
it must, and no reading lied. Figures belong to docs/BENCHMARKS.md, not to this test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.test_bench_smoke import run_bench

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.mark.skipif(os.geteuid() != 0, reason="the Swarm bed needs root; CI runs as root")
def test_swarm_outages_reports_each_kind_without_a_lie(tmp_path: Path) -> None:
    kinds = "engine-blip,link-before-switch"
    data = run_bench("swarm_outages", tmp_path, "--trials", "1", "--kinds", kinds, timeout=540)
    assert set(data["kinds"]) == {"engine-blip", "link-before-switch"}
    for kind, row in data["kinds"].items():
        assert row["trials"] == 1 and row["ready_again"] == 1, (kind, row)
        assert row["premature_readies"] == 0 and row["false_failures"] == 0, (kind, row)
        assert row["readings"] >= 3, (kind, row)
