"""The operator lock and agent lease with real flock, real processes and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.actor import current_actor
from console.core.lock import AgentLease, LockHeld, OperatorLock
from console.core.model import Actor, LockHolder

REPO = Path(__file__).resolve().parents[2]
ALICE = Actor(user="alice", ssh_client="10.0.0.5", pid=4242)

# A long-lived helper process driven over stdin, so the race test does not pay for 400 interpreter
# start-ups: "try ACTION" → prints "won"/"lost" and, when won, holds until "release".
WORKER = r"""
import sys
from console.core.lock import LockHeld, OperatorLock
from console.core.model import Actor
lock = OperatorLock(sys.argv[1])
held = None
print("ready", flush=True)
for line in sys.stdin:
    command, _, arg = line.strip().partition(" ")
    if command == "try":
        try:
            held = lock.acquire(arg, Actor(user=sys.argv[2], ssh_client="192.0.2.7", pid=0))
            held.__enter__()
            print("won", flush=True)
        except LockHeld:
            held = None
            print("lost", flush=True)
    elif command == "release":
        if held is not None:
            held.__exit__(None, None, None)
            held = None
        print("released", flush=True)
"""

LEASE_WORKER = r"""
import sys, time
from console.core.lock import AgentLease
print("won" if AgentLease(sys.argv[1]).try_acquire() else "lost", flush=True)
time.sleep(60)
"""


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream:
                stream.close()


def _worker(processes: list[subprocess.Popen[str]], state_dir: Path, user: str) -> Worker:
    proc = _spawn(WORKER, str(state_dir), user)
    processes.append(proc)
    worker = Worker(proc)
    assert worker.read() == "ready"
    return worker


class Worker:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()


def test_second_acquire_raises_lock_held_naming_holder(tmp_path: Path) -> None:
    lock = OperatorLock(tmp_path)
    with lock.acquire("switch", ALICE) as holder:
        assert holder.user == "alice"
        bob_lock = OperatorLock(tmp_path)
        with pytest.raises(LockHeld) as caught, bob_lock.acquire("deploy", Actor(user="bob")):
            pytest.fail("two holders at once")
        held = caught.value.holder
        assert held is not None
        assert (held.user, held.action, held.ssh_client) == ("alice", "switch", "10.0.0.5")
        message = str(caught.value)
        assert message.startswith("Another operation is running: alice from 10.0.0.5 (pid 4242)")
        assert "is running 'switch' since " in message
        assert message.endswith("Wait for it to finish, or check `bluegreen status`.")
    assert lock.holder() is None
    assert not (tmp_path / "operator.holder").exists()
    with lock.acquire("deploy", Actor(user="bob")):
        pass


def test_lock_is_not_reentrant_and_released_on_exception(tmp_path: Path) -> None:
    lock = OperatorLock(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), lock.acquire("deploy", ALICE):
        with pytest.raises(LockHeld), lock.acquire("deploy", ALICE):
            pass
        raise RuntimeError("boom")
    assert lock.holder() is None


def test_holder_file_is_private_json_and_update_action_rewrites_it(tmp_path: Path) -> None:
    lock = OperatorLock(tmp_path)
    actor = current_actor()
    with lock.acquire("switch", actor):
        path = tmp_path / "operator.holder"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        data = json.loads(path.read_text())
        assert data["pid"] == os.getpid()
        assert data["host"]
        lock.update_action("switch: verifying through the proxy")
        holder = lock.holder()
        assert holder is not None
        assert holder.action == "switch: verifying through the proxy"
        assert holder.pid == os.getpid()
    lock.update_action("ignored when not held")
    assert not (tmp_path / "operator.holder").exists()


def test_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    lock = OperatorLock(tmp_path)
    inside = 0
    overlaps = 0
    wins = 0
    guard = threading.Lock()

    def attempt() -> None:
        nonlocal inside, overlaps, wins
        for _ in range(50):
            try:
                with lock.acquire("deploy", ALICE):
                    with guard:
                        inside += 1
                        wins += 1
                        overlaps += inside > 1
                    time.sleep(0.0005)
                    with guard:
                        inside -= 1
            except LockHeld:
                pass

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == 0
    assert wins > 0


def test_holder_seen_from_another_process_and_freed_by_sigkill(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    worker = _worker(processes, tmp_path, "carol")
    worker.send("try deploy v1.5.0")
    assert worker.read() == "won"
    holder = OperatorLock(tmp_path).holder()
    assert holder is not None
    assert (holder.user, holder.action, holder.ssh_client) == (
        "carol",
        "deploy v1.5.0",
        "192.0.2.7",
    )
    assert holder.pid == worker.proc.pid

    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(timeout=10)
    # The dead process left its holder file behind; it must not be believed.
    assert (tmp_path / "operator.holder").exists()
    assert OperatorLock(tmp_path).holder() is None
    with OperatorLock(tmp_path).acquire("rollback", ALICE) as mine:
        assert OperatorLock(tmp_path).holder() == mine


def test_holder_is_none_without_state_dir(tmp_path: Path) -> None:
    assert OperatorLock(tmp_path / "missing").holder() is None


def test_two_processes_racing_exactly_one_wins_every_time(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    first = _worker(processes, tmp_path, "alice")
    second = _worker(processes, tmp_path, "bob")
    # A TUI polling holder() meanwhile must never make both lose (or both win).
    observer = OperatorLock(tmp_path)
    stop = threading.Event()
    probes: list[LockHolder | None] = []

    def probe() -> None:
        while not stop.is_set():
            probes.append(observer.holder())

    prober = threading.Thread(target=probe)
    prober.start()
    winners: list[str] = []
    try:
        for trial in range(200):
            first.send(f"try trial-{trial}")
            second.send(f"try trial-{trial}")
            results = (first.read(), second.read())
            assert sorted(results) == ["lost", "won"], f"trial {trial}: {results}"
            winner = first if results[0] == "won" else second
            winners.append("first" if winner is first else "second")
            winner.send("release")
            assert winner.read() == "released"
    finally:
        stop.set()
        prober.join()
    assert len(winners) == 200
    assert any(p is not None for p in probes)


def test_agent_lease_single_holder_and_info(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    mine = AgentLease(tmp_path)
    assert mine.info().running is False
    agent = _spawn(LEASE_WORKER, str(tmp_path))
    processes.append(agent)
    assert Worker(agent).read() == "won"

    info = mine.info()
    assert info.running is True
    assert info.pid == agent.pid
    assert info.since is not None and info.since <= time.time()
    assert mine.try_acquire() is False

    agent.send_signal(signal.SIGKILL)
    agent.wait(timeout=10)
    assert mine.info().running is False
    assert mine.try_acquire() is True
    assert mine.try_acquire() is True  # idempotent for the holder
    assert AgentLease(tmp_path).try_acquire() is False
    info = AgentLease(tmp_path).info()
    assert info.running is True and info.pid == os.getpid()
    mine.release()
    assert AgentLease(tmp_path).info().running is False
    assert not (tmp_path / "agent.json").exists()


def test_current_actor_prefers_sudo_user_and_ssh_client() -> None:
    env = {"SUDO_USER": "alice", "USER": "root", "SSH_CLIENT": "10.0.0.5 51234 22"}
    actor = current_actor(env, uid=0)
    assert actor == Actor(user="alice", ssh_client="10.0.0.5", pid=os.getpid())
    env = {"USER": "bob", "SSH_CONNECTION": "2001:db8::1 50000 2001:db8::2 22"}
    actor = current_actor(env, uid=0)
    assert (actor.user, actor.ssh_client) == ("root", "2001:db8::1")  # $USER is not believed
    assert current_actor({}).user  # falls back to the login name
    assert current_actor({}).ssh_client is None


def test_current_actor_is_the_real_user_not_a_claimed_one() -> None:
    # An unprivileged user cannot pass as someone else by setting SUDO_USER or USER.
    nobody = current_actor({"SUDO_USER": "alice", "USER": "alice"}, uid=65534)
    assert nobody.user == "nobody"
    assert current_actor({}, uid=4_000_000).user == "uid4000000"  # no passwd entry
