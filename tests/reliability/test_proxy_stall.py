"""nginx stalled (SIGSTOP) during `bluegreen switch --yes`, resumed a few seconds later: the CLI's
outcome is true, and status, the proxy and what clients get agree within 5 s of the resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.core.config.load import load_config
from console.drivers.proxy import make_proxy
from tests.reliability.conftest import World

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _nginx_pids(world: World) -> list[int]:
    master = json.loads((world.dir / "sandbox.json").read_text())["pids"]["nginx"]
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *(int(pid) for pid in children)]


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.mark.parametrize("stall_after", [0.0, 0.6])
def test_nginx_stalled_during_switch_ends_in_the_truth(world: World, stall_after: float) -> None:
    world.ensure_baseline()
    before = world.status()["live"]
    target = "green" if before == "blue" else "blue"
    pids = _nginx_pids(world)
    holder = world.state / "operator.holder"
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "--config", str(world.config), "switch", "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    resumed = 0.0
    try:
        deadline = time.monotonic() + 30
        while not holder.exists() and time.monotonic() < deadline:  # the switch holds the lock
            time.sleep(0.005)
        time.sleep(stall_after)
        _signal(pids, signal.SIGSTOP)
        time.sleep(3.0)
    finally:
        _signal(pids, signal.SIGCONT)
        resumed = time.monotonic()
    out, _ = process.communicate(timeout=90)
    outcome = [line for line in out.splitlines() if line.startswith(("✓", "✗"))]
    assert outcome, out
    assert "Traceback" not in out and "outcome unknown" not in out, out
    proxy = make_proxy(load_config(str(world.config)))
    agreed = None
    while time.monotonic() - resumed < 5.0:
        status, current, served = world.status()["live"], proxy.current(), world.served(5)
        if served == {status} and current == status:
            agreed = status
            break
        time.sleep(0.2)
    assert agreed is not None, f"status, proxy and clients disagree 5 s after resume: {out}"
    if outcome[-1].startswith("✓"):
        assert agreed == target, out
    else:  # said only after a read-back showed it
        assert "traffic unchanged" in outcome[-1] and agreed == before, out
