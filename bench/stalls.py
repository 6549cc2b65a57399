"""Parts that hang: SIGSTOP a sandbox's nginx, PostgreSQL, the Docker daemon, a webhook endpoint
or a colour's container, and always SIGCONT it again.

A stopped process keeps its listening sockets: connections are accepted by the kernel and never
answered — exactly what an overloaded or stuck part looks like from outside, and what the
reliability suite's "down" cases (refused connections) do not try.

Resuming is guaranteed twice: `stalled()` sends SIGCONT in a `finally`, and before stopping
anything it starts a detached watchdog (`sleep N; kill -CONT …`, its own session) that resumes the
processes even if this process is SIGKILLed meanwhile. A dockerd left stopped breaks every other
user of the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

WATCHDOG_MARGIN_SECONDS = 30.0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (children of children…), parents first."""
    found = [pid]
    for parent in found:
        for task in _tasks(parent):
            path = Path(f"/proc/{parent}/task/{task}/children")
            with contextlib.suppress(OSError, ValueError):
                found += [
                    int(child) for child in path.read_text().split() if int(child) not in found
                ]
    return found


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def nginx_pids(sandbox_dir: Path) -> list[int]:
    """The sandbox's nginx master and workers."""
    master = _pid_file(Path(sandbox_dir) / "nginx" / "nginx.pid")
    return descendants(master) if master else []


def postgres_pids(sandbox_dir: Path) -> list[int]:
    """The sandbox's postmaster and every backend (stopping only the postmaster leaves open
    connections answering)."""
    postmaster = _pid_file(Path(sandbox_dir) / "pg" / "postmaster.pid")
    return descendants(postmaster) if postmaster else []


def dockerd_pids() -> list[int]:
    """The Docker daemon only: containerd and the containers' shims keep running, as they do
    when a real dockerd hangs."""
    done = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True, check=False)
    return [int(pid) for pid in done.stdout.split()]


def container_pids(name: str) -> list[int]:
    """The processes of a running container (its init and everything under it)."""
    done = subprocess.run(
        ["docker", "inspect", name], capture_output=True, text=True, check=False, timeout=30
    )
    try:
        pid = int(json.loads(done.stdout)[0]["State"]["Pid"])
    except (ValueError, KeyError, IndexError):
        return []
    return descendants(pid) if pid > 0 else []


@contextlib.contextmanager
def stalled(pids: list[int], longest: float = 60.0) -> Iterator[float]:
    """SIGSTOP `pids` for the `with` block (yields the monotonic time they were stopped) and
    SIGCONT them at its end, whatever happens; a detached watchdog resumes them after `longest`
    (+ a margin) seconds even if this process dies first."""
    if not pids:
        raise RuntimeError("nothing to stall: the part's processes were not found")
    listed = " ".join(str(pid) for pid in pids)
    watchdog = subprocess.Popen(
        ["sh", "-c", f"sleep {longest + WATCHDOG_MARGIN_SECONDS:.0f}; kill -CONT {listed}"],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stopped: list[int] = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield time.monotonic()
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(watchdog.pid, signal.SIGKILL)  # the watchdog this call started, by its id
        watchdog.wait()


def is_stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False
