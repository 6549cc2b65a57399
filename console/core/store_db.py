"""SQLite plumbing under `Store`: file creation, WAL, a connection pool, transactions, migrations.

Several processes use one file at once (agent writing, TUIs and CLIs reading), which is what WAL
is for: readers never block the writer and see each commit as a whole. Every write is one
`BEGIN IMMEDIATE` transaction: taking the write lock up front means a busy writer waits out
`busy_timeout` instead of failing halfway on a read-to-write upgrade (which SQLite does not retry).

Connections: a small pool, each connection used by one thread at a time (check_same_thread=False
is safe because a connection is never shared concurrently). A pool rather than one connection per
thread because Textual starts a new thread per worker, so thread-local connections would pile up
over hours; a pool rather than one locked connection so a reader never queues behind a writer
that is waiting out another process's lock.

Every sqlite3 error leaves this module as a `StateDirError` whose message says what to do.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from console.core.fsutil import StateDirError, open_private
from console.core.store_schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
_POOL_IDLE_MAX = 4


class Database:
    """One SQLite file in WAL mode, shared by threads through a pool; migrated when opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._closed = False
        self._create_file()
        try:
            self._migrate()
        except StateDirError:
            self.close()
            raise

    def _create_file(self) -> None:
        # SQLite would create the file with the umask's mode; create it 0600 first. Its -wal and
        # -shm files take the database file's mode.
        try:
            fd = open_private(self.path, os.O_RDWR)  # 0660 in an operators' group dir
            os.close(fd)
        except OSError as exc:
            raise StateDirError(
                f"Cannot open state database {self.path}: {exc.strerror or exc}. "
                "Fix its permissions or point state_dir elsewhere."
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE in write()
            check_same_thread=False,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL: a power cut may lose the last commits but never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection in autocommit mode: each statement sees the latest commit."""
        if self._closed:
            raise RuntimeError("the store is closed")
        with self._pool_lock:
            conn = self._pool.pop() if self._pool else None
        try:
            if conn is None:
                conn = self._connect()
            yield conn
        except sqlite3.Error as exc:
            raise self._as_state_error(exc) from exc
        finally:
            if conn is not None:
                self._give_back(conn)

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            # A connection stuck in a transaction (a failed ROLLBACK) must not be reused.
            keep = not self._closed and not conn.in_transaction and len(self._pool) < _POOL_IDLE_MAX
            if keep:
                self._pool.append(conn)
        if not keep:
            conn.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of the block's statements commit together, or none."""
        with self.read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _as_state_error(self, exc: sqlite3.Error) -> StateDirError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            hint = "another bluegreen process held it too long; retry, and look for a stuck one"
        elif "full" in text or ("I/O" in text and _disk_full(self.path)):
            # A full disk often surfaces as "disk I/O error" (the WAL index cannot grow); telling
            # the operator to move a healthy database aside would lose its history for nothing.
            hint = "the disk is full; free space or point state_dir elsewhere"
        elif "readonly" in text or "unable to open" in text:
            hint = "this user cannot write it; fix its permissions or point state_dir elsewhere"
        else:
            hint = (
                "if it is damaged, move it aside and a fresh one will be created (history is "
                "lost; the live colour is re-read from the proxy)"
            )
        return StateDirError(f"State database {self.path} cannot be used ({text}): {hint}.")

    def _migrate(self) -> None:
        # IMMEDIATE, so two processes opening a new file at once migrate it exactly once.
        with self.write() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StateDirError(
                    f"State database {self.path} was written by a newer bluegreen (schema "
                    f"{version}, this one knows {SCHEMA_VERSION}). Upgrade bluegreen on this host."
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            if version != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close pooled connections; one in use is closed when it is given back."""
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()


def _disk_full(path: Path) -> bool:
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024
