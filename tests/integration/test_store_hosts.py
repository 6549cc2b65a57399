"""A shared store with hosts that vanish (issue 24): "hosts" are network namespaces on a bridge
(tests/netns_hosts.py), PostgreSQL listens on the bridge, and a host vanishes by its link going
down — its connections are left open and unanswered, not closed. The server's keepalives, set
per lock connection (~11 s), are what free its lock and its lease."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.config.load import load_config
from console.drivers.store.pg_lock import PgOperatorLock
from console.sandbox.postgres_proc import PostgresServer
from console.wiring import open_installation
from tests import ports
from tests.integration.test_shared_store import CONFIG, LOCK_HOLDER, _wait
from tests.netns_hosts import Hosts, hosts

pytestmark = pytest.mark.integration

PG_PORT, BLUE, GREEN, PROXY = ports.STORE_HOSTS
REPO = Path(__file__).resolve().parents[2]
PG_DIR = Path("/var/tmp/bgtest-store-hosts/pg")
HANG_GUARD = 60.0  # the design frees them in ~11 s; only a hang fails here


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Hosts, PostgresServer]]:
    with hosts("bgsh", ["a", "b"], subnet=79) as net:
        server = PostgresServer(
            PG_DIR, PG_PORT, "hosts-" + os.urandom(6).hex(),
            listen=("127.0.0.1", net.gateway), clients=(net.network,),
        )  # fmt: skip
        server.destroy()
        server.start()
        server.wait_ready()
        try:
            server.create_database("store")
            yield net, server
        finally:
            server.destroy()


def _config(root: Path, url: str) -> Path:
    root.mkdir(parents=True)
    path = root / "bluegreen.toml"
    text = CONFIG.format(root=root, blue=BLUE, green=GREEN, proxy=PROXY)
    path.write_text(text.replace("${{STORE_URL}}", "${STORE_URL}").replace("${STORE_URL}", url))
    return path


def test_a_vanished_holders_lock_is_freed_by_the_servers_keepalives(
    world: tuple[Hosts, PostgresServer], tmp_path: Path
) -> None:
    net, server = world
    config = _config(tmp_path / "a", server.url("store", host=net.gateway))
    open_installation(load_config(str(config))).close()  # the schema, as a first command
    holder = net.members["a"].run(
        [
            sys.executable,
            "-c",
            LOCK_HOLDER,
            str(config),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    lock = PgOperatorLock(server.url("store"), "bluegreen_shared")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        seen = lock.holder()
        assert seen is not None and seen.action == "deploy v9"
        net.members["a"].cut()
        took = _wait("the lock freed", lambda: lock.holder() is None, timeout=HANG_GUARD)
        print(f"lock freed {took:.1f} s after host a vanished")
    finally:
        net.members["a"].mend()
        holder.kill()
        holder.wait()


def test_a_standby_takes_over_from_a_vanished_leader_which_then_stands_down(
    world: tuple[Hosts, PostgresServer], tmp_path: Path
) -> None:
    net, server = world
    agents: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    for name in ("a", "b"):
        config = _config(tmp_path / name, server.url("store", host=net.gateway))
        log = tmp_path / f"{name}.log"
        logs.append(log)
        agents.append(
            net.members[name].run(
                [sys.executable, "-m", "console", "--config", str(config), "agent"],
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"},
            )
        )
        if name == "a":
            try:
                took = _wait("a leads", lambda: "Agent started" in _events(server), timeout=60)
            except AssertionError:
                _dump_stacks(agents[0])
                raise AssertionError(
                    f"agent a did not start leading; its log:\n{logs[0].read_text()}"
                ) from None
            print(f"a leads {took:.1f} s after it started")
    try:
        _wait("b stands by", lambda: "Standing by" in logs[1].read_text(), timeout=60)
        include = tmp_path / "a" / "include"
        before = {p: p.stat().st_mtime_ns for p in include.rglob("*")} if include.exists() else {}
        net.members["a"].cut()
        took = _wait(
            "b takes over", lambda: "took over the lease" in logs[1].read_text(), HANG_GUARD
        )
        print(f"b leads {took:.1f} s after host a vanished")
        _wait("a stands down", lambda: "lost its lease" in logs[0].read_text(), HANG_GUARD)
        after = {p: p.stat().st_mtime_ns for p in include.rglob("*")} if include.exists() else {}
        assert after == before  # the cut-off leader changed none of its proxy's files
        assert agents[0].poll() is None  # it stands by, it did not crash
    finally:
        net.members["a"].mend()
        for agent in agents:
            agent.send_signal(signal.SIGTERM)
        for agent in agents:
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()


def _dump_stacks(agent: subprocess.Popen[str]) -> None:
    """Every thread's stack into the agent's log, to see what it waits on: it runs with
    PYTHONFAULTHANDLER set, so SIGABRT writes them (`ip netns exec` execs: the pid is Python's)."""
    if agent.poll() is None:
        agent.send_signal(signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            agent.wait(5)


def _events(server: PostgresServer) -> str:
    import psycopg

    try:
        with psycopg.connect(server.url("store"), autocommit=True) as conn:
            rows = conn.execute("SELECT text FROM bluegreen_shared.events").fetchall()
    except psycopg.Error:
        return ""
    return "\n".join(row[0] for row in rows)
