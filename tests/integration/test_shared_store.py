"""The shared store on a real PostgreSQL (issue 24): two "hosts" (two state directories, two
agent processes) for one service, one lock and one lease between them.

What is measured (takeover times, over many trials) is in bench/; here each behaviour is shown
once, with bounds that only guard against a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from console.core.config.load import load_config
from console.core.fence import LeaseLost
from console.core.fsutil import StateDirError
from console.core.installation import Installation
from console.core.lock import LockHeld
from console.core.model import Actor
from console.sandbox.postgres_proc import PostgresServer
from console.wiring import open_installation
from tests import ports
from tests.store_sites import postgres_server

pytestmark = pytest.mark.integration

PG_PORT, BLUE, GREEN, PROXY = ports.STORE_SHARED
REPO = Path(__file__).resolve().parents[2]

CONFIG = """
service = "shared"
state_dir = "{root}/state"
[store]
url = "${{STORE_URL}}"
[image]
repository = "shared-test"
[slots.blue]
container = "bgtest-shared-blue"
host_port = {blue}
[slots.green]
container = "bgtest-shared-green"
host_port = {green}
[proxy]
include_dir = "{root}/include"
proxy_url = "http://127.0.0.1:{proxy}"
mode = "reload"
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server(PG_PORT) as server:
        yield server


@pytest.fixture
def hosts(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Path]]:
    """Two hosts' configurations of one service: own state directories, one store."""
    url = postgres.url("store")
    monkeypatch.setenv("STORE_URL", url)
    paths = []
    for name in ("a", "b"):
        root = tmp_path / name
        root.mkdir()
        path = root / "bluegreen.toml"
        path.write_text(CONFIG.format(root=root, blue=BLUE, green=GREEN, proxy=PROXY))
        paths.append(path)
    yield paths[0], paths[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bluegreen_shared CASCADE")


def _agent(config: Path) -> tuple[subprocess.Popen[str], Path]:
    log = config.parent / "agent.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--config", str(config), "agent"],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return proc, log


def _wait(what: str, ok: Callable[[], bool], timeout: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ok():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# Holds the operator lock of the configuration in argv[1] as alice from 10.0.0.5 (pid 4242).
LOCK_HOLDER = (
    "import sys, time\n"
    "from console.core.config.load import load_config\n"
    "from console.core.model import Actor\n"
    "from console.wiring import open_installation\n"
    "inst = open_installation(load_config(sys.argv[1]))\n"
    "with inst.lock.acquire('deploy v9', Actor('alice', '10.0.0.5', 4242)):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(600)\n"
)


def test_one_lock_for_both_hosts_and_a_killed_holder_frees_it(hosts: tuple[Path, Path]) -> None:
    a, b = hosts
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LOCK_HOLDER,
            str(a),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    other = open_installation(load_config(str(b)))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as refused, other.lock.acquire("switch", Actor("bob")):
            pass
        text = str(refused.value)
        assert "alice from 10.0.0.5 (pid 4242)" in text and "'deploy v9'" in text
        seen = other.lock.holder()
        assert seen is not None and seen.user == "alice"
        holder.kill()  # SIGKILL: its connection closes with the process
        holder.wait()
        _wait("the lock freed", lambda: other.lock.holder() is None, timeout=10)
        with other.lock.acquire("switch", Actor("bob")) as mine:
            assert mine.user == "bob" and other.lock.holder() == mine
        assert other.lock.holder() is None
    finally:
        holder.kill()
        other.close()


def test_a_second_agent_stands_by_and_takes_over_when_the_first_dies(
    hosts: tuple[Path, Path],
) -> None:
    a, b = hosts
    first, first_log = _agent(a)
    second = None
    try:
        inst = open_installation(load_config(str(b)))
        _wait("the first agent leads", lambda: inst.agent_lease.info().pid == first.pid)
        second, second_log = _agent(b)
        _wait("the second stands by", lambda: "Standing by" in second_log.read_text())
        assert second.poll() is None  # waiting, not exited
        assert f"(pid {first.pid})" in second_log.read_text()
        _wait("status names the standby", lambda: inst.agent_lease.info().standbys != ())
        (standby,) = inst.agent_lease.info().standbys
        assert standby.startswith(f"pid {second.pid} on ")
        first.kill()
        first.wait()
        _wait("the takeover", lambda: "took over the lease" in second_log.read_text(), 15)
        assert inst.agent_lease.info().pid == second.pid
        status = subprocess.run(
            [sys.executable, "-m", "console", "--config", str(a), "status", "--json"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert f'"pid": {second.pid}' in status.stdout
        assert '"standbys": []' in status.stdout  # the leader is no longer standing by
        events = [e.text for e in inst.store.events()]
        assert "This agent took over the lease and acts now." in events
        assert os.environ["STORE_URL"] not in first_log.read_text() + second_log.read_text()
        inst.close()
    finally:
        _stop(first)
        if second is not None:
            _stop(second)


def test_an_agent_cut_off_from_the_store_changes_nothing(
    hosts: tuple[Path, Path], postgres: PostgresServer
) -> None:
    """The server ends the leader's session (as it does for a host that vanished): the leader's
    next change to the proxy or runtime is refused before it reaches either."""
    a, _ = hosts
    inst = open_installation(load_config(str(a)))
    try:
        assert inst.agent_lease.try_acquire()
        inst.fence_with(inst.agent_lease.confirm)
        proxy = inst.proxy
        with psycopg.connect(postgres.url("store"), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'bluegreen agent'"
            )
        with pytest.raises(LeaseLost, match="no longer holds its lease"):
            proxy.write_files("green")
        assert not (Path(inst.config.proxy.include_dir)).exists()  # nothing was written
        assert not inst.agent_lease.held
        assert inst.agent_lease.try_acquire()  # free again: this one may lead anew
    finally:
        inst.agent_lease.release()
        inst.close()


def _cluster_pids(postgres: PostgresServer) -> list[int]:
    """The postmaster and every process it forked (backends, checkpointer, …)."""
    postmaster = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [postmaster, *map(int, children)]


def test_a_stalled_store_is_said_within_its_bound_and_resumes(
    hosts: tuple[Path, Path], postgres: PostgresServer
) -> None:
    """PostgreSQL SIGSTOPped (its kernel still acknowledges, so nothing times out by itself): a
    read says in one sentence that the store did not answer, instead of hanging; it reads again
    once the server runs."""
    a, _ = hosts
    inst = open_installation(load_config(str(a)))
    inst.store.set_live("blue", None)
    pids = _cluster_pids(postgres)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(StateDirError, match="did not answer within 5 s"):
            inst.store.live()
        assert time.monotonic() - started < 30  # a hang guard: the bound is 5 s
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    _wait("the store answers again", lambda: _reads(inst) == "blue", timeout=30)
    inst.close()


def _reads(inst: Installation) -> str | None:
    try:
        return inst.store.live()
    except StateDirError:
        return None


def test_consoles_on_other_hosts_are_woken_by_a_commit_and_watchers_only_read(
    hosts: tuple[Path, Path], postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watcher on host B (a role that may only read, from its own watch_url) waits for the
    store's next commit; an operator's switch record on host A wakes it within a round trip."""
    a, b = hosts
    operator = open_installation(load_config(str(a)))
    operator.store.set_live("blue", None)  # creates the schema, as an operator's first command
    url = postgres.url("store")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS shared_watcher")
        admin.execute("CREATE ROLE shared_watcher LOGIN PASSWORD 'watch-only-pw'")
        admin.execute("GRANT USAGE ON SCHEMA bluegreen_shared TO shared_watcher")
        admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA bluegreen_shared TO shared_watcher")
    watch_url = url.replace(f"{postgres.user}:{postgres.password}", "shared_watcher:watch-only-pw")
    b.write_text(
        b.read_text().replace(
            'url = "${STORE_URL}"', 'watch_url = "${WATCH_URL}"\nurl = "${STORE_URL}"'
        )
    )
    monkeypatch.setenv("WATCH_URL", watch_url)
    monkeypatch.delenv("STORE_URL")  # this user has no operator's secret
    watcher = open_installation(load_config(str(b), watching=True))
    try:
        assert watcher.store.read_only and watcher.store.live() == "blue"
        assert not watcher.store.wait_for_change(0.3)  # nothing committed: it just waited
        woke: list[float] = []

        def wait() -> None:
            started = time.monotonic()
            if watcher.store.wait_for_change(10):
                woke.append(time.monotonic() - started)

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.5)  # the watcher listens
        operator.store.set_live("green", "blue")
        waiter.join(15)
        assert woke and woke[0] < 5  # woken by the commit, not by its 10 s timeout
        assert watcher.store.live() == "green"
        with pytest.raises(StateDirError, match="may only watch"):
            watcher.store.set_live("blue", "green")
    finally:
        watcher.close()
        operator.close()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("DROP OWNED BY shared_watcher")
            admin.execute("DROP ROLE IF EXISTS shared_watcher")
