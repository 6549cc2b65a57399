"""A bound on every wait for PostgreSQL, which psycopg does not give by itself.

A server that stops answering without closing its connections — SIGSTOPped, swapping, its host
gone behind a firewall that drops packets — leaves a statement waiting forever: its kernel still
acknowledges, so neither TCP keepalives nor `statement_timeout` (enforced by the stalled server)
end it. `StallGuard` watches the statements in flight from one daemon thread and shuts the socket
of any that waited longer than its bound: the blocked call returns at once with psycopg's
OperationalError, and `stalled()` tells the caller to say "did not answer" rather than "closed".
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

STALL_SECONDS = 5.0


class StallGuard:
    def __init__(self, seconds: float = STALL_SECONDS, every: float = 0.25) -> None:
        self.seconds = seconds
        self._every = every
        self._lock = threading.Lock()
        self._inflight: dict[int, tuple[float, Any]] = {}  # id(conn) → (started, conn)
        self._stalled: set[int] = set()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, conn: Any) -> Iterator[None]:
        """Bound the block's waits on `conn` (a psycopg connection)."""
        key = id(conn)
        with self._lock:
            self._inflight[key] = (time.monotonic(), conn)
            self._stalled.discard(key)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pg-stall", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def stalled(self, conn: Any) -> bool:
        """True if the guard ended `conn` because it stopped answering."""
        with self._lock:
            return id(conn) in self._stalled

    def _run(self) -> None:
        while True:
            time.sleep(self._every)
            now = time.monotonic()
            with self._lock:
                late = [
                    (key, conn)
                    for key, (started, conn) in self._inflight.items()
                    if now - started > self.seconds and key not in self._stalled
                ]
                self._stalled.update(key for key, _ in late)
            for _, conn in late:
                _shut(conn)


def _shut(conn: Any) -> None:
    """Shut the connection's socket down under it (a dup: the original fd stays psycopg's)."""
    with contextlib.suppress(Exception):
        fd = os.dup(conn.pgconn.socket)
        with socket.socket(fileno=fd) as sock:
            sock.shutdown(socket.SHUT_RDWR)


GUARD = StallGuard()  # one watcher thread for every store, lock and lease of the process
