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

Read-only (`Database(path, read_only=True)`, for users who may only watch): nothing is created,
migrated or written. SQLite reads a WAL database read-only only if its `-wal` and `-shm` files
exist (a reader that cannot write the directory cannot create them; a read-only `-shm` is read
into private memory, SQLite >= 3.22). They exist while any writer has the file open — the agent
always does. With no writer at all SQLite has deleted them after a full checkpoint, so the whole
database is in the main file: it is then read with `immutable=1`, which takes no locks and reads
no WAL. That is wrong for a live database, so the main file's identity is compared before and
after each such read: if a writer came and checkpointed meanwhile the read is refused (one
sentence: retry) rather than trusted.

Every sqlite3 error leaves this module as a `StateDirError` whose message says what to do.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from console.core.access import AccessDenied
from console.core.fsutil import StateDirError, open_private, user_name
from console.core.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
_POOL_IDLE_MAX = 4


class Database:
    """One SQLite file in WAL mode, shared by threads through a pool; migrated when opened."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.where = str(path)
        self.read_only = read_only
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._closed = False
        if read_only:
            self._check_readable()
            return
        self._create_file()
        try:
            self._migrate()
        except StateDirError:
            self.close()
            raise

    def _create_file(self) -> None:
        # SQLite would create the file with the umask's mode; create it 0600 first. Its -wal and
        # -shm files take the database file's mode (and, as root, its owner and group).
        try:
            # 0660 in an operators' group dir, 0640 in a watchers' one
            fd = open_private(self.path, os.O_RDWR, watchable=True)
            os.close(fd)
        except OSError as exc:
            raise StateDirError(
                f"Cannot open state database {self.path}: {exc.strerror or exc}. "
                "Fix its permissions or point state_dir elsewhere."
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only(immutable=False)
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
        if self.read_only and not self._wal_present():
            with self._read_quiescent() as quiescent:
                yield quiescent
            return
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
            # A connection stuck in a transaction (a failed ROLLBACK) must not be reused. Nor a
            # read-only one: if the writers all close, SQLite deletes the -wal and -shm it has
            # open, and a new writer's are other files.
            keep = (
                not self._closed
                and not self.read_only
                and not conn.in_transaction
                and len(self._pool) < _POOL_IDLE_MAX
            )
            if keep:
                self._pool.append(conn)
        if not keep:
            conn.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of the block's statements commit together, or none."""
        if self.read_only:
            raise self._refused_write()
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

    def wait_for_change(self, timeout: float) -> bool:
        """SQLite tells no one of a commit: readers poll, so this only waits."""
        time.sleep(timeout)
        return False

    def close(self) -> None:
        """Close pooled connections; one in use is closed when it is given back."""
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()

    # ── read-only ──

    def _check_readable(self) -> None:
        directory = self.path.parent
        # X first: below a directory it may not enter, Path.exists() raises (Python < 3.12).
        enter = os.access(directory, os.X_OK)
        if not enter or (self.path.exists() and not os.access(self.path, os.R_OK)):
            raise StateDirError(
                f"{user_name()} may not read this installation's state ({directory}): ask an "
                "operator to add you to its watchers_group (or operators_group), or run as root."
            )
        if not self.path.exists():
            raise StateDirError(
                f"There is no state database at {self.path} yet: nothing has been recorded on "
                "this installation (an operator's first command, or the agent, creates it)."
            )
        with self.read() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            older = version < SCHEMA_VERSION
            raise StateDirError(
                f"State database {self.path} has schema {version}; this bluegreen reads "
                f"{SCHEMA_VERSION}. "
                + (
                    "An operator's next command (or the agent) upgrades it; watch again then."
                    if older
                    else "Upgrade bluegreen on this host."
                )
            )

    def _wal_present(self) -> bool:
        return all(Path(f"{self.path}{suffix}").exists() for suffix in ("-wal", "-shm"))

    def _connect_read_only(self, immutable: bool) -> sqlite3.Connection:
        query = "mode=ro&immutable=1" if immutable else "mode=ro"
        uri = f"file:{urllib.parse.quote(str(self.path))}?{query}"
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        return conn

    @contextlib.contextmanager
    def _read_quiescent(self) -> Iterator[sqlite3.Connection]:
        """Read a database no writer has open (no -wal): immutable, checked against a writer
        arriving during the read (its checkpoint would change the main file under us)."""
        before = _identity(self.path)
        conn = self._connect_read_only(immutable=True)
        try:
            yield conn
        except sqlite3.Error as exc:
            raise self._as_state_error(exc) from exc
        finally:
            conn.close()
        if _identity(self.path) != before:
            raise StateDirError(
                f"State database {self.path} changed while it was being read (an operator or the "
                "agent just opened it): run the command again."
            )

    def _refused_write(self) -> StateDirError:
        who = user_name()
        return AccessDenied(
            f"{who} may only watch this installation: its state ({self.path.parent}) is "
            f"read-only for {who}, so nothing was changed; ask an operator to act, or to add you "
            "to operators_group."
        )


def _identity(path: Path) -> tuple[int, int, int, int, bool]:
    """What changes if anyone writes the main file (or starts a WAL next to it)."""
    try:
        info = os.stat(path)
    except OSError:
        return (0, 0, 0, 0, False)
    wal = Path(f"{path}-wal").exists()
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, wal)


def _disk_full(path: Path) -> bool:
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024
