"""The operator lock (one mutating operation at a time) and the agent lease (one watcher).

Both are `flock(2)` locks on files in the state dir. The kernel drops a flock when the last file
descriptor of its open file description closes — including when the process is SIGKILLed — so a
crashed operation can never leave a stale lock behind. Who holds it is written next to it
(`operator.holder`, `agent.json`); that file is only believed while the flock is actually held.

Threads: flock conflicts are per *open file description*, not per process. Every `acquire()` opens
its own descriptor, so two threads of one process (e.g. two TUI workers) exclude each other exactly
like two processes do. The lock is not re-entrant: a nested `acquire()` raises LockHeld. The
descriptors are close-on-exec, so a child such as `nginx -t` never inherits (and prolongs) the lock.

Probing (`holder()`, `info()`) takes a *shared* flock for an instant: probes never block each other,
and an exclusive acquire that collides with a probe retries until the probe lets go — or a named,
live holder appears — for up to a second before giving up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from console.core.fsutil import (
    StateDirError,
    atomic_write,
    ensure_private_dir,
    open_private,
    watchable_file_mode,
)
from console.core.model import Actor, AgentInfo, LockHolder

LOCK_FILE = "operator.lock"
HOLDER_FILE = "operator.holder"
AGENT_LOCK_FILE = "agent.lock"
AGENT_FILE = "agent.json"

# A probe holds its shared flock for microseconds — unless the scheduler stops its thread in
# between, which a loaded host does for tens of milliseconds (two racing operators both refused
# behind a TUI's probe, seen under CI load with 50 ms here). This is how long an acquirer keeps
# trying while nobody it can name holds the lock; a named, live holder refuses it at once.
_PROBE_GRACE_SECONDS = 1.0
# How long a refused acquirer waits for a brand-new holder to record its name.
_NAMING_GRACE_SECONDS = 1.0


class LockHeld(Exception):
    """Another operation holds the operator lock; `holder` says who, when it could be read."""

    def __init__(self, holder: LockHolder | None) -> None:
        self.holder = holder
        who = f": {holder.describe()}" if holder else ""
        super().__init__(
            f"Another operation is running{who}. "
            "Wait for it to finish, or check `bluegreen status`."
        )


def _open_lock_file(path: Path, create: bool) -> int:
    try:
        if create:
            return open_private(path, os.O_RDWR)  # 0600, or 0660 in an operators' group dir
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except PermissionError:
        if not create:
            raise  # a watcher probing: see _is_held
        raise StateDirError(
            f"Cannot open lock file {path}: permission denied. "
            "Fix the state directory's permissions or point state_dir elsewhere."
        ) from None
    except OSError as exc:
        raise StateDirError(
            f"Cannot open lock file {path}: {exc.strerror or exc}. "
            "Fix the state directory's permissions or point state_dir elsewhere."
        ) from exc


def _try_exclusive(fd: int, holder_alive: Callable[[], bool]) -> bool:
    """Non-blocking exclusive flock that tolerates a concurrent probe's momentary shared lock.

    Gives up at once when `holder_alive()` confirms a real, live holder; otherwise retries for up
    to `_PROBE_GRACE_SECONDS`, which covers both a probe and a new holder not yet done writing
    its file.
    """
    deadline = time.monotonic() + _PROBE_GRACE_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if holder_alive() or time.monotonic() >= deadline:
                return False
            time.sleep(0.002)


def _is_held(path: Path) -> bool | None:
    """True if some descriptor (in any process, this one included) holds `path` exclusively;
    None if this user may not open it (a watcher: the lock files stay the operators', so that no
    watcher can hold a lock that blocks them)."""
    try:
        fd = _open_lock_file(path, create=False)
    except FileNotFoundError:
        return False
    except PermissionError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def new_holder(actor: Actor, action: str) -> LockHolder:
    """Who takes a lock now: the actor, on this host (its pid when it has none of its own)."""
    return LockHolder(
        user=actor.user,
        action=action,
        since=time.time(),
        pid=actor.pid or os.getpid(),
        ssh_client=actor.ssh_client,
        host=socket.gethostname(),
    )


def holder_from_data(data: dict[str, Any] | None) -> LockHolder | None:
    """A recorded holder (a file here, a row in a shared store), or None if unreadable."""
    if data is None:
        return None
    try:
        ssh_client = data.get("ssh_client")
        return LockHolder(
            user=str(data["user"]),
            action=str(data["action"]),
            since=float(data["since"]),
            pid=int(data["pid"]),
            ssh_client=str(ssh_client) if ssh_client else None,
            host=str(data.get("host", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _holder_json(holder: LockHolder) -> str:
    return json.dumps(
        {
            # The process that really holds the flock (the actor's pid is what is shown).
            "owner_pid": os.getpid(),
            "user": holder.user,
            "action": holder.action,
            "since": holder.since,
            "pid": holder.pid,
            "ssh_client": holder.ssh_client,
            "host": holder.host,
        }
    )


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class OperatorLock:
    """The operator lock in `state_dir`: `with lock.acquire("switch", actor): ...`."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.lock_path = self.state_dir / LOCK_FILE
        self.holder_path = self.state_dir / HOLDER_FILE
        # What *this* instance holds, for update_action(); guarded because workers share instances.
        self._mutex = threading.Lock()
        self._held: LockHolder | None = None

    @contextlib.contextmanager
    def acquire(self, action: str, actor: Actor) -> Iterator[LockHolder]:
        """Hold the lock for the `with` block, or raise LockHeld at once naming the holder."""
        ensure_private_dir(self.state_dir)
        fd = _open_lock_file(self.lock_path, create=True)
        try:
            if not _try_exclusive(fd, lambda: self._live_recorded_holder() is not None):
                raise LockHeld(self._named_holder())
            holder = new_holder(actor, action)
            self._write_holder(holder)
            with self._mutex:
                self._held = holder
            try:
                yield holder
            finally:
                with self._mutex:
                    self._held = None
                # Remove the holder file while still locked, so we never delete a successor's.
                with contextlib.suppress(OSError):
                    self.holder_path.unlink()
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def update_action(self, text: str) -> None:
        """Refine what the holder is doing (e.g. 'switch: verifying'); no-op if not held here."""
        with self._mutex:
            if self._held is None:
                return
            holder = LockHolder(
                user=self._held.user,
                action=text,
                since=self._held.since,
                pid=self._held.pid,
                ssh_client=self._held.ssh_client,
                host=self._held.host,
            )
            self._write_holder(holder)
            self._held = holder

    def confirm(self) -> bool:
        """A flock lives as long as this process: held while an `acquire` block runs."""
        with self._mutex:
            return self._held is not None

    def _write_holder(self, holder: LockHolder) -> None:
        # Watchers may read who holds the lock (never the lock file itself).
        atomic_write(self.holder_path, _holder_json(holder), watchable_file_mode(self.state_dir))

    def _named_holder(self, wait: float = _NAMING_GRACE_SECONDS) -> LockHolder | None:
        """The holder, for a refusal: a new holder may still be writing its file (an fsync on a
        busy disk takes tens of ms), and "unknown (pid 0)" tells the refused operator nothing."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            recorded = self._live_recorded_holder()
            if recorded is not None or not _is_held(self.lock_path):
                return recorded
            time.sleep(0.005)
        return self.holder()

    def holder(self) -> LockHolder | None:
        """Who holds the lock, or None if free (a crashed holder's leftover file is ignored)."""
        held = _is_held(self.lock_path)
        if held is None:  # a watcher: go by the holder file and whether its process lives
            return self._live_recorded_holder()
        if not held:
            return None
        recorded = self._live_recorded_holder()
        if recorded is not None:
            return recorded
        # Held, but the file is missing or left by a dead process: the new holder is between
        # taking the flock and writing its file. Say so rather than report the dead one.
        return LockHolder(user="unknown", action="starting an operation", since=time.time(), pid=0)

    def _live_recorded_holder(self) -> LockHolder | None:
        data = _read_json(self.holder_path)
        recorded = holder_from_data(data)
        if recorded is None or data is None:
            return None
        owner = data.get("owner_pid")
        return recorded if _pid_alive(owner if isinstance(owner, int) else recorded.pid) else None


class AgentLease:
    """The single-watcher lease: the agent holds `agent.lock` for its whole life."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.lock_path = self.state_dir / AGENT_LOCK_FILE
        self.info_path = self.state_dir / AGENT_FILE
        self._mutex = threading.Lock()
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lease if free and record pid/since; True if this process now holds it."""
        with self._mutex:
            if self._fd is not None:
                return True
            ensure_private_dir(self.state_dir)
            fd = _open_lock_file(self.lock_path, create=True)
            if not _try_exclusive(fd, self._recorded_agent_alive):
                os.close(fd)
                return False
            try:
                info = json.dumps({"pid": os.getpid(), "since": time.time()})
                atomic_write(self.info_path, info, watchable_file_mode(self.state_dir))
            except StateDirError:
                os.close(fd)
                raise
            self._fd = fd
            return True

    def _recorded_agent_alive(self) -> bool:
        pid = (_read_json(self.info_path) or {}).get("pid")
        return isinstance(pid, int) and _pid_alive(pid)

    @property
    def held(self) -> bool:
        """True if this instance holds the lease."""
        return self._fd is not None

    def confirm(self) -> bool:
        """A flock is held until this process lets go: nobody can take it over."""
        return self.held

    def info(self) -> AgentInfo:
        """Whether an agent holds the lease, and its pid/since (heartbeat comes from the store)."""
        held = self.held or _is_held(self.lock_path)
        if held is None:  # a watcher may not probe the lease: its recorded process must live
            held = self._recorded_agent_alive()
        if not held:
            return AgentInfo(running=False)
        data = _read_json(self.info_path) or {}
        pid = data.get("pid")
        since = data.get("since")
        return AgentInfo(
            running=True,
            pid=int(pid) if isinstance(pid, int) else None,
            since=float(since) if isinstance(since, int | float) else None,
        )

    def release(self) -> None:
        """Give the lease up (also happens by itself when the process exits)."""
        with self._mutex:
            if self._fd is None:
                return
            with contextlib.suppress(OSError):
                self.info_path.unlink()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
