"""Host processes of the sandbox: start one in its own session, check it, stop it by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class SandboxError(Exception):
    """The sandbox could not be brought up or down; the message says what to do."""


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a long-running child in its own session (it survives this CLI and its terminal)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
    finally:
        os.close(fd)
    return process.pid


def process_alive(pid: int | None) -> bool:
    """True if `pid` runs; a zombie (our own exited child) or a vanished process is not alive."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False  # gone between the two checks


def child_pids(pid: int | None) -> list[int]:
    """`pid`'s live children, sorted: a proxy master's workers (during a reload, old ones too)."""
    if pid is None:
        return []
    children = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError, ValueError):
        return sorted(int(child) for child in children.read_text().split())
    return []


def terminate(pid: int | None, sig: int = signal.SIGTERM, wait: float = 10.0) -> None:
    if not process_alive(pid):
        return
    assert pid is not None
    with contextlib.suppress(OSError):
        os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.1)
    if process_alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def wait_until(condition: Callable[[], bool], seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.1)
    raise SandboxError(f"{failure} within {seconds:.0f} s.")


def processes_naming(directory: Path) -> list[int]:
    """Live processes with an argument in `directory` (an agent's --config, nginx's -p,
    PostgreSQL's -D), this process and its ancestors excepted."""
    mine = {os.getpid()}
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = os.getpid()
        while pid > 1:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            mine.add(pid)
    prefix = f"{directory}/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            names_it = any(
                a == str(directory) or a.startswith(prefix) or f"={prefix}" in a for a in args
            )
            if names_it and process_alive(int(entry.name)):
                found.append(int(entry.name))
    return found
