"""Concurrent operators: two processes race for the operator lock, many times over.

Each trial, two worker processes are released by a barrier at the same instant and both try
`OperatorLock.acquire()` + a real store write (an audit event). The winner keeps the lock until
the loser has tried, so the two attempts always overlap: exactly one may proceed, and the other
must get `LockHeld` naming the winner (user, pid, action) and a `since` inside the trial. Every
`--kill-every`-th trial, a third process takes the lock and is SIGKILLed while holding it: the
lock must be free again at once (flock dies with its process), with no stale holder shown.

    python -m bench.lock_storm --trials 1000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from console.core.lock import LockHeld, OperatorLock
from console.core.model import Actor
from console.core.store.store import Store


@dataclass
class StormReport:
    trials: int = 0
    exactly_one: int = 0
    refusals_naming_holder: int = 0
    kills: int = 0
    free_after_kill: int = 0
    max_free_after_kill_ms: float = 0.0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"trials: {self.trials}; exactly one proceeded: {self.exactly_one}; "
            f"loser told holder/action/since: {self.refusals_naming_holder}; "
            f"holders SIGKILLed: {self.kills}, lock free right after: {self.free_after_kill} "
            f"(max {self.max_free_after_kill_ms:.1f} ms); violations: {len(self.violations)}"
        )


def _worker(
    name: str,
    state_dir: str,
    trials: int,
    start: Barrier,
    tried: Barrier,
    results: Any,
) -> None:
    lock = OperatorLock(state_dir)
    store = Store.open(state_dir)
    actor = Actor(name, f"10.0.0.{1 if name == 'alice' else 2}", os.getpid())
    for trial in range(trials):
        start.wait()
        began = time.time()
        try:
            with lock.acquire(f"switch #{trial}", actor):
                store.record_event("storm", f"trial {trial} by {name}", "info", name)
                tried.wait()  # hold until the other one has tried: the attempts overlap
                results.put((trial, name, "won", None))
        except LockHeld as exc:
            holder = exc.holder
            detail = None
            if holder is not None:
                detail = (holder.user, holder.pid, holder.action, holder.since, began, str(exc))
            results.put((trial, name, "refused", detail))
            tried.wait()
    store.close()


def _hold_forever(state_dir: str, ready: Any) -> None:
    with OperatorLock(state_dir).acquire("doomed switch", Actor("mallory", None, os.getpid())):
        ready.set()
        time.sleep(3600)


def _kill_holder(state_dir: str, report: StormReport) -> None:
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    process = ctx.Process(target=_hold_forever, args=(state_dir, ready))
    process.start()
    if not ready.wait(10):
        report.violations.append("the doomed holder never took the lock")
        process.kill()
        return
    lock = OperatorLock(state_dir)
    holder = lock.holder()
    if holder is None or holder.user != "mallory":
        report.violations.append(f"a live holder was not reported: {holder}")
    assert process.pid is not None
    killed_at = time.perf_counter()
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    report.kills += 1
    if lock.holder() is not None:
        report.violations.append(f"stale holder after SIGKILL: {lock.holder()}")
        return
    try:
        with lock.acquire("after the kill", Actor("bob", None, os.getpid())):
            pass
    except LockHeld as exc:
        report.violations.append(f"lock not free after SIGKILL: {exc}")
        return
    report.free_after_kill += 1
    report.max_free_after_kill_ms = max(
        report.max_free_after_kill_ms, (time.perf_counter() - killed_at) * 1000
    )


def run_storm(state_dir: str, trials: int, kill_every: int = 10) -> StormReport:
    """Run `trials` races in `state_dir`; every `kill_every`-th trial also kills a holder."""
    ctx = mp.get_context("fork")
    report = StormReport()
    start, tried = ctx.Barrier(3), ctx.Barrier(2)
    results = ctx.Queue()
    Store.open(state_dir).close()  # create and migrate once, before the race
    workers = [
        ctx.Process(target=_worker, args=(name, state_dir, trials, start, tried, results))
        for name in ("alice", "bob")
    ]
    for worker in workers:
        worker.start()
    pids = {name: worker.pid for name, worker in zip(("alice", "bob"), workers, strict=True)}
    try:
        for trial in range(trials):
            start.wait(timeout=30)
            outcomes = [results.get(timeout=30) for _ in range(2)]
            report.trials += 1
            _judge(trial, outcomes, pids, report)
            if kill_every and trial % kill_every == kill_every - 1:
                _kill_holder(state_dir, report)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    store = Store.open(state_dir)
    try:
        writes = [e for e in store.events(limit=trials * 2 + 10) if e.kind == "storm"]
    finally:
        store.close()
    if len(writes) != trials:
        report.violations.append(f"{len(writes)} store writes for {trials} trials")
    return report


def _judge(
    trial: int,
    outcomes: list[tuple[int, str, str, Any]],
    pids: dict[str, int | None],
    report: StormReport,
) -> None:
    winners = [name for _, name, result, _ in outcomes if result == "won"]
    if len(winners) != 1:
        report.violations.append(f"trial {trial}: {len(winners)} proceeded")
        return
    report.exactly_one += 1
    winner = winners[0]
    _, loser, _, detail = next(o for o in outcomes if o[2] == "refused")
    if detail is None:
        report.violations.append(f"trial {trial}: {loser} was refused without a holder")
        return
    user, pid, action, since, began, message = detail
    ok = (
        user == winner
        and pid == pids[winner]
        and action == f"switch #{trial}"
        and began - 5 <= since <= time.time()
        and winner in message
        and "since" in message
    )
    if ok:
        report.refusals_naming_holder += 1
    else:
        report.violations.append(f"trial {trial}: refusal said {message!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--kill-every", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bluegreen-lockstorm-") as directory:
        started = time.monotonic()
        report = run_storm(str(Path(directory) / "state"), args.trials, args.kill_every)
        elapsed = time.monotonic() - started
    print(f"lock storm: {report.summary()} in {elapsed:.1f} s")
    for violation in report.violations[:20]:
        print(f"  {violation}")
    return 0 if not report.violations else 1


if __name__ == "__main__":
    sys.exit(main())
