"""The shared store's benchmark (bench/shared_store.py) in its smoke form: a few trials of each
figure on its own PostgreSQL, so the published figures keep a working way to reproduce them.
Side by side with other modules: it binds only its own port."""

from __future__ import annotations

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
