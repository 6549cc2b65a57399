"""A running canary is judged on its own traffic (the same [analysis] limits) and aborted by the
agent at failure_limit; a quiet canary never is. Real store, fake proxy reading and a fake abort
(the real abort runs against real proxies in tests/integration/test_canary_sandbox.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.core.config.load import parse_config
from console.core.model import Canary
from console.core.store.store import Store
from tests.unit.test_analysis_watch import CONFIG, Counts, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    store = Store.open(tmp_path / "state")
    store.set_live("blue", None)
    store.set_canary(Canary("green", 10))
    try:
        yield make_world(store, parse_config(CONFIG))
    finally:
        store.close()


def _run(world: dict[str, Any], seconds: int, green: tuple[int, int]) -> None:
    """Tick once a second: blue serves 90 good requests, green (ok, errors)."""
    counts = Counts()
    start = time.time()
    for second in range(seconds):
        counts.serve("blue", 90, 0, 10)
        if sum(green):
            counts.serve("green", green[0], green[1], 10)
        world["traffic"].snapshot = counts.snapshot(start + second)
        world["watch"].observe(start + second, "blue")
        world["watch"].post_switch(start + second)


def _events(world: dict[str, Any]) -> list[str]:
    return [e.text for e in world["store"].events() if e.kind == "analysis"]


def test_a_failing_canary_is_aborted_at_the_failure_limit_with_its_figures(
    world: dict[str, Any],
) -> None:
    _run(world, 8, (6, 4))  # 40 % 5xx on the canary's share
    polls = [e for e in _events(world) if "Analysis of the canary" in e]
    assert len(polls) == 2, _events(world)  # failure_limit 2
    assert all("5xx 40.0% > 5.0% (max_error_rate)" in e for e in polls), polls
    assert len(world["aborts"]) == 1 and "5xx 40.0%" in world["aborts"][0]
    assert world["store"].canary() is None


def test_a_quiet_canary_is_never_aborted(world: dict[str, Any]) -> None:
    _run(world, 12, (0, 0))
    polls = [e for e in _events(world) if "Analysis of the canary" in e]
    assert polls and all("inconclusive" in e for e in polls), polls
    assert world["aborts"] == []
    assert world["store"].canary() == Canary("green", 10)


def test_a_healthy_canary_passes_and_keeps_running(world: dict[str, Any]) -> None:
    _run(world, 8, (10, 0))
    polls = [e for e in _events(world) if "Analysis of the canary" in e]
    assert polls and all("pass" in e for e in polls), polls
    assert world["aborts"] == []
