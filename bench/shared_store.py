"""The shared store's figures (issue 24), on a private PostgreSQL started here.

- takeover: a process holds the operator lock (or the agent lease) and is SIGKILLed; the time
  until another process holds it — the lock by retrying `acquire`, the lease as a standby agent
  does (`try_acquire` every STANDBY_POLL_SECONDS). Targets: ≤ 1 s p99.
- visibility: a commit on "host A" (a `set_live`) until a console on "host B", waiting on the
  store's notifications, is woken — against the 1 s poll SQLite consoles use. Target ≤ 1 s p95.
- tick: one agent tick's store work (both slot statuses, a heartbeat, a sample batch, the
  status snapshot) on SQLite and on PostgreSQL, in the same run.

- link down (`--link-down N`): the holder runs in a network namespace whose link goes down, its
  connections left open; the time until the lock is free (the server's keepalives). Target ≤ 30 s.

    python -m bench.shared_store [--trials 100] [--ticks 300] [--port 27390] [--link-down 10]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.common import fmt, percentile, table, write_results
from console.agent.standby import STANDBY_POLL_SECONDS
from console.core.model import Actor, Sample, SlotState, SlotStatus
from console.core.store.store import Store
from console.drivers.store.pg_lock import PgAgentLease, PgOperatorLock
from console.drivers.store.postgres import PostgresDatabase
from console.sandbox.postgres_proc import PostgresServer
from tests.netns_hosts import Hosts, hosts

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "bluegreen_bench"
HOLDER = """
import sys, time
from console.drivers.store.pg_lock import PgAgentLease, PgOperatorLock
from console.core.model import Actor
url, schema, kind = sys.argv[1:4]
if kind == "lock":
    with PgOperatorLock(url, schema).acquire("bench", Actor("holder")):
        print("held", flush=True)
        time.sleep(600)
else:
    lease = PgAgentLease(url, schema)  # kept: its connection holds the lease
    assert lease.try_acquire()
    print("held", flush=True)
    time.sleep(600)
"""


def _holder(url: str, kind: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, SCHEMA, kind],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def takeover(url: str, kind: str, trials: int) -> list[float]:
    """Seconds from the holder's SIGKILL until this process holds what it held."""
    lock = PgOperatorLock(url, SCHEMA)
    times: list[float] = []
    for _ in range(trials):
        holder = _holder(url, kind)
        lease = PgAgentLease(url, SCHEMA)
        assert kind == "lock" or not lease.try_acquire()  # a standby, its connection open
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        if kind == "lock":
            while True:
                try:
                    with lock.acquire("bench", Actor("taker")):
                        break
                except Exception:
                    time.sleep(0.005)
        else:
            while not lease.try_acquire():
                time.sleep(STANDBY_POLL_SECONDS)
        times.append(time.monotonic() - killed)
        lease.release()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    return times


@contextlib.contextmanager
def store_on_bridge(net: Hosts, port: int, schema: str) -> Iterator[tuple[str, str, Path]]:
    """A private PostgreSQL listening on the hosts' bridge, its schema made: (its URL from
    here, its URL from the hosts, a scratch directory), all removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="bench-hosts-", dir="/var/tmp"))
    os.chmod(root, 0o755)  # the postgres user runs the cluster inside
    server = PostgresServer(
        root / "pg", port, "bench-" + os.urandom(6).hex(),
        listen=("127.0.0.1", net.gateway), clients=(net.network,),
    )  # fmt: skip
    server.start()
    server.wait_ready()
    try:
        url = server.create_database("store")
        Store(PostgresDatabase(url, schema)).close()  # the schema, as an operator's first use
        yield url, url.replace("127.0.0.1", net.gateway), root
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)


def link_down(trials: int, port: int) -> list[float]:
    """Seconds from a holder's host vanishing (its link down, connections left open) until the
    lock is free: the server's keepalives decide it. Hosts are network namespaces."""
    times: list[float] = []
    with hosts("bgbl", ["a"], subnet=80) as net, store_on_bridge(net, port, SCHEMA) as where:
        url, remote, _ = where
        lock = PgOperatorLock(url, SCHEMA)
        host = net.members["a"]
        for _ in range(trials):
            holder = host.run(
                [sys.executable, "-c", HOLDER, remote, SCHEMA, "lock"],
                stdout=subprocess.PIPE, text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            host.cut()
            cut = time.monotonic()
            while lock.holder() is not None:
                time.sleep(0.1)
            times.append(time.monotonic() - cut)
            host.mend()
            holder.kill()
            holder.wait()
            holder.stdout.close()
    return times


def visibility(url: str, trials: int) -> list[float]:
    """Seconds from a commit on one store handle until another, waiting, is woken."""
    writer = Store(PostgresDatabase(url, SCHEMA))
    reader = Store(PostgresDatabase(url, SCHEMA, read_only=True))
    delays: list[float] = []
    committed = [0.0]

    def wait() -> None:
        if reader.wait_for_change(5.0):
            delays.append(time.monotonic() - committed[0])

    for n in range(trials):
        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.05)  # listening
        committed[0] = time.monotonic()
        writer.set_live("green" if n % 2 else "blue", None)
        thread.join(10)
    writer.close()
    reader.close()
    return delays


def tick_cost(store: Store, ticks: int) -> list[float]:
    """Milliseconds of one agent tick's store work."""
    times: list[float] = []
    for n in range(ticks):
        started = time.perf_counter()
        for color in ("blue", "green"):
            store.put_slot_status(SlotStatus(color, SlotState.SYNCING, height=n, head=n + 10))  # type: ignore[arg-type]
        store.heartbeat("agent")
        store.add_samples("green", [Sample(time.time(), n + 10, n)])
        store.snapshot()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(name: str, values: list[float], unit: Callable[[float], float], target: str) -> list[str]:
    scaled = [unit(v) for v in values]
    return [name, str(len(values)), fmt(percentile(scaled, 50)), fmt(percentile(scaled, 95)),
            fmt(percentile(scaled, 99)), fmt(max(scaled) if scaled else None), target]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--port", type=int, default=27390)
    parser.add_argument(
        "--link-down",
        type=int,
        default=0,
        metavar="N",
        help="N trials of a holder's host vanishing (network namespaces; root)",
    )
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-shared-", dir="/var/tmp"))
    os.chmod(root, 0o755)  # the postgres user runs the cluster inside
    server = PostgresServer(root / "pg", args.port, password="bench-" + os.urandom(6).hex())
    server.start()
    server.wait_ready()
    try:
        url = server.create_database("store")
        Store(PostgresDatabase(url, SCHEMA)).close()  # the schema, as an operator's first use
        lock = takeover(url, "lock", args.trials)
        lease = takeover(url, "lease", args.trials)
        seen = visibility(url, args.trials)
        pg_store = Store(PostgresDatabase(url, SCHEMA))
        pg_tick = tick_cost(pg_store, args.ticks)
        pg_store.close()
        sqlite_store = Store.open(root / "sqlite")
        sqlite_tick = tick_cost(sqlite_store, args.ticks)
        sqlite_store.close()
    finally:
        server.destroy()
        shutil.rmtree(root, ignore_errors=True)
    cut = link_down(args.link_down, args.port + 1) if args.link_down else []
    seconds_ms = 1000.0
    rows = [
        _row("lock after SIGKILL (ms)", lock, lambda s: s * seconds_ms, "p99 ≤ 1000"),
        _row("lease after SIGKILL (ms)", lease, lambda s: s * seconds_ms, "p99 ≤ 1000"),
        _row("commit → other console (ms)", seen, lambda s: s * seconds_ms, "p95 ≤ 1000"),
        _row("lock after its host vanished (s)", cut, lambda s: s, "≤ 30"),
        _row("tick, SQLite (ms)", sqlite_tick, lambda v: v, ""),
        _row("tick, PostgreSQL (ms)", pg_tick, lambda v: v, ""),
    ]
    print(table(["figure", "n", "p50", "p95", "p99", "max", "target"], rows))
    sqlite_p50, pg_p50 = percentile(sqlite_tick, 50), percentile(pg_tick, 50)
    if sqlite_p50 and pg_p50:
        print(
            f"one tick's store work: PostgreSQL p50 {pg_p50:.1f} ms, {pg_p50 / sqlite_p50:.1f}× "
            f"SQLite's {sqlite_p50:.1f} ms; SQLite consoles poll every 1 s (a change seen "
            "500 ms later on average) where shared-store consoles are woken"
        )
    path = write_results(
        "shared_store",
        {
            "trials": args.trials,
            "lock_takeover_s": lock,
            "lease_takeover_s": lease,
            "visibility_s": seen,
            "link_down_s": cut,
            "tick_ms": {"sqlite": sqlite_tick, "postgresql": pg_tick},
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
