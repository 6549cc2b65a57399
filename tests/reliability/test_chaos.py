"""Crash consistency, reduced: SIGKILL the CLI and the agent at random points (`bench/chaos.py`
runs 200+ trials; `--stall` hangs parts instead, 100+ trials), plus the one crash window a random
kill rarely hits — between the proxy change and the store write — forced deterministically."""

from __future__ import annotations

import time

import pytest

from bench.chaos import Chaos
from bench.chaos_stall import StallChaos
from console.core.config.load import load_config
from console.core.store.store import Store
from console.drivers.proxy import make_proxy
from tests.reliability.conftest import World

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_random_sigkills_leave_one_consistent_state(world: World) -> None:
    chaos = Chaos(world.config, seed=5, say=print)
    report = chaos.run(8)
    print(report.summary())
    assert report.violations == []
    assert report.trials == 8
    assert report.killed_mid_operation >= 4  # the kills really land inside the operations
    assert report.max_reconcile_seconds < 5.0


def test_random_stalls_end_in_truth_within_a_tick(world: World) -> None:
    """`bench/chaos.py --stall` reduced: parts SIGSTOPped and resumed during switches,
    rollbacks and idle ticks; status and the proxy agree within one tick of the resume."""
    world.ensure_baseline()
    report = StallChaos(Chaos(world.config, seed=3, say=print), seed=3, say=print).run(6)
    print(report.summary())
    assert report.trials == 6
    assert report.violations == []
    assert report.disagreements == 0 and report.false_outcomes == 0


def test_crash_between_proxy_and_store_is_reconciled_as_drift(world: World) -> None:
    """What a SIGKILL right after the proxy moved leaves behind: proxy on the other colour,
    store and persisted file still on the old one. `reconcile` trusts the running proxy.
    (The agent is stopped: it would fix this itself within a tick, tested below.)"""
    world.ensure_baseline()
    world.stop_agent()
    config = load_config(str(world.config))
    proxy = make_proxy(config)
    store = Store.open(world.state)
    try:
        live = store.live()
        assert live is not None
        target = "green" if live == "blue" else "blue"
        proxy.admin.set(target)  # type: ignore[attr-defined]  # the switch, and nothing after it
        assert world.served() == {target}  # traffic is wholly on the new colour already
        assert store.live() == live and proxy.persisted() == live
        before = store.events(limit=1)[-1].id
        started = time.monotonic()
        code, out = world.cli("reconcile")
        elapsed = time.monotonic() - started
        assert code == 0, out
        assert "drift" in out
        assert elapsed < 5.0
        assert store.live() == proxy.current() == proxy.persisted() == target
        drifts = [e for e in store.events(after_id=before) if e.kind == "drift"]
        assert len(drifts) == 2, drifts  # the store and the file were both behind
        assert world.served() == {target}
    finally:
        store.close()
        world.start_agent()


def test_the_agent_fixes_a_proxy_changed_behind_its_back_within_one_tick(world: World) -> None:
    """The same window with the agent running: its per-tick read of the proxy finds the drift,
    fixes the store and the file, and records it as changed outside bluegreen."""
    world.ensure_baseline()
    config = load_config(str(world.config))
    proxy = make_proxy(config)
    store = Store.open(world.state)
    try:
        live = store.live()
        assert live is not None
        target = "green" if live == "blue" else "blue"
        before = store.events(limit=1)[-1].id
        proxy.admin.set(target)  # type: ignore[attr-defined]
        started = time.monotonic()
        while store.live() != target and time.monotonic() - started < 5.0:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        print(f"agent fixed the store {elapsed:.2f} s after the proxy moved")
        interval = config.readiness.sample_interval_seconds
        assert store.live() == target and elapsed <= interval + 1.0  # one tick, and its work
        world.wait_for("file rewritten", lambda: proxy.persisted() == target, 2.0)
        events = store.events(after_id=before)  # recorded as each fix is made
        drifts = [e for e in events if e.kind == "drift"]
        assert drifts and "changed outside bluegreen" in drifts[0].text, events
        assert drifts[0].actor == "agent"
        assert world.served() == {target}
    finally:
        store.close()
