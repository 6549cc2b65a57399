"""Concurrent operators, reduced: 100 races of two processes for the operator lock + a store
write, and 10 holders SIGKILLed while holding it (`bench/lock_storm.py` runs 1,000)."""

from __future__ import annotations

from pathlib import Path

from bench.lock_storm import run_storm


def test_exactly_one_proceeds_and_the_other_is_told_who_what_since(tmp_path: Path) -> None:
    report = run_storm(str(tmp_path / "state"), trials=100, kill_every=10)
    assert report.violations == []
    assert report.trials == report.exactly_one == report.refusals_naming_holder == 100


def test_a_killed_holder_never_leaves_a_stale_lock(tmp_path: Path) -> None:
    report = run_storm(str(tmp_path / "state"), trials=10, kill_every=1)
    assert report.violations == []
    assert report.kills == report.free_after_kill == 10
