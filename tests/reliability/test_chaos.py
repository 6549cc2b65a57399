"""Crash consistency, reduced: SIGKILL the CLI and the agent at random points (`bench/chaos.py`
runs 200+ trials), plus the one crash window a random kill rarely hits — between the proxy
change and the store write — forced deterministically."""

from __future__ import annotations

import time

import pytest

from bench.chaos import Chaos
from console.core.config import load_config
from console.core.store import Store
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


def test_crash_between_proxy_and_store_is_reconciled_as_drift(world: World) -> None:
    """What a SIGKILL right after the proxy moved leaves behind: proxy on the other colour,
    store and persisted file still on the old one. `reconcile` trusts the running proxy."""
    world.ensure_baseline()
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
