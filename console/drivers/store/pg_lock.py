"""The operator lock and the agent lease in PostgreSQL, for operators and agents on several hosts.

Both are session advisory locks, each held on a connection of its own for as long as it is held:
PostgreSQL frees a session's locks when its connection ends, so a holder that dies frees them as
soon as its socket closes (SIGKILL: at once), and a holder whose host vanishes frees them when
the server's keepalives give up on it — the lock connection sets them short (`_SESSION_SETTINGS`:
about 11 s) instead of the kernel's two hours. Who holds it is a row beside it (`bluegreen_locks`,
in the service's schema), believed only while pg_locks shows that row's backend holding the lock.

Session locks need one server session under one client connection. A pooler in transaction mode
(PgBouncer's `pool_mode = transaction`) hands each transaction another backend: a lock taken there
is held by a session the client no longer talks to. Each lock connection is checked for such a
pooler as it opens (drivers/store/pg_session.py), and `pg_backend_pid()` is compared before and
after taking the lock; either refuses in one sentence.

The lease is trusted only while recently confirmed: its holder checks it at least every
`LEASE_TRUST_SECONDS`, well inside the server's ~11 s, so an agent cut off from the database stops
acting before a standby can take over — never both at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from console.core.fsutil import StateDirError
from console.core.lock import LockHeld, holder_from_data, new_holder
from console.core.model import Actor, AgentInfo, LockHolder
from console.drivers.store import pg_session
from console.drivers.store.postgres import LOCKS_TABLE, server_name
from console.drivers.store.stall_guard import GUARD

# Server side: give up on a silent client after 5 s idle + 3 probes 2 s apart, or 10 s of
# unacknowledged data — the bound on how long a vanished holder keeps a lock.
_SESSION_SETTINGS = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "10000",
    "statement_timeout": "3000",
}
LEASE_TRUST_SECONDS = 4.0  # a holder that cannot confirm its lease this long stops acting
_NAMING_GRACE_SECONDS = 1.0


def lock_key(schema: str, name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` in `schema`."""
    digest = hashlib.sha256(f"{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Session:
    """One dedicated connection that holds one advisory lock."""

    def __init__(self, url: str, schema: str, name: str) -> None:
        self.url = url
        self.schema = schema
        self.name = name
        self.key = lock_key(schema, name)
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        self.classid, self.objid = unsigned >> 32, unsigned & 0xFFFFFFFF
        self.where = f"{server_name(url)} (schema {schema})"

    def connect(self) -> psycopg.Connection[Any]:
        try:
            return pg_session.connect(
                self.url,
                {"search_path": self.schema, **_SESSION_SETTINGS},
                self.where,
                application_name=f"bluegreen {self.name}",
                tcp_user_timeout=10000,
                **pg_session.CLIENT_KEEPALIVES,
            )
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def error(self, exc: psycopg.Error) -> StateDirError:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        state = "is unreachable" if isinstance(exc, psycopg.OperationalError) else "cannot be used"
        return StateDirError(
            f"The {self.name} lock at {self.where} {state} ({text}): check that PostgreSQL runs "
            "and answers, and that [store] url is right."
        )

    def try_lock(self, conn: psycopg.Connection[Any]) -> bool:
        first = _backend(conn)
        (got,) = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone() or (0,)
        if got and _backend(conn) != first:
            raise StateDirError(pg_session.pooler_refusal(self.where))
        return bool(got)

    def holds(self, conn: psycopg.Connection[Any], backend: int | None) -> bool:
        """Whether `backend` (None: any session) holds the lock now."""
        row = conn.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND "
            "objid = %s AND objsubid = 1 AND granted AND (%s::int IS NULL OR pid = %s::int)",
            (self.classid, self.objid, backend, backend),
        ).fetchone()
        return row is not None

    def record(self, conn: psycopg.Connection[Any], data: dict[str, Any]) -> None:
        conn.execute(
            f"INSERT INTO {LOCKS_TABLE} (name, data, backend_pid) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET data = excluded.data, "
            "backend_pid = excluded.backend_pid",
            (self.name, json.dumps(data), _backend(conn)),
        )

    def forget(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            f"DELETE FROM {LOCKS_TABLE} WHERE name = %s AND backend_pid = pg_backend_pid()",
            (self.name,),
        )
        conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

    @contextlib.contextmanager
    def reading(self) -> Iterator[psycopg.Connection[Any]]:
        """A short-lived connection to look at the lock (whoever asks: a status, a refusal)."""
        settings = {"search_path": self.schema, "statement_timeout": "3000"}
        with pg_session.connect(self.url, settings, self.where) as conn, GUARD.watch(conn):
            yield conn

    def standbys(self) -> tuple[str, ...]:
        """ "pid P on HOST" of each agent standing by whose connection still lives."""
        try:
            with self.reading() as conn:
                rows = conn.execute(
                    f"SELECT data FROM {LOCKS_TABLE} WHERE name LIKE %s AND backend_pid IN "
                    "(SELECT pid FROM pg_stat_activity)",
                    (f"{self.name}-standby:%",),
                ).fetchall()
        except psycopg.Error:
            return ()
        found = []
        for (text,) in rows:
            data = json.loads(text)
            found.append(f"pid {data.get('pid')} on {data.get('host')}")
        return tuple(sorted(found))

    def recorded(self) -> dict[str, Any] | None:
        """The holder's row, if pg_locks shows its backend holding the lock; {} when the lock
        is held but its row is not written yet (or not by its holder); None when it is free."""
        try:
            with self.reading() as conn:
                row = conn.execute(
                    f"SELECT data, backend_pid FROM {LOCKS_TABLE} WHERE name = %s", (self.name,)
                ).fetchone()
                if row is None or not self.holds(conn, int(row[1])):
                    return {} if self.holds(conn, None) else None
        except psycopg.errors.UndefinedTable:
            return None
        except psycopg.Error as exc:
            raise self.error(exc) from None
        data = json.loads(row[0])
        return data if isinstance(data, dict) else {}


def _backend(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    return int(row[0]) if row else 0


class PgOperatorLock:
    """The operator lock of one service in a shared database: `with lock.acquire(…): …`."""

    def __init__(self, url: str, schema: str) -> None:
        self._session = _Session(url, schema, "operator")
        self._mutex = threading.Lock()
        self._held: tuple[psycopg.Connection[Any], LockHolder] | None = None

    @contextlib.contextmanager
    def acquire(self, action: str, actor: Actor) -> Iterator[LockHolder]:
        """Hold the lock for the `with` block, or raise LockHeld at once naming the holder."""
        conn = self._session.connect()
        try:
            try:
                with GUARD.watch(conn):
                    got = self._session.try_lock(conn)
            except psycopg.Error as exc:
                raise self._session.error(exc) from None
            if not got:
                raise LockHeld(self._named_holder())
            holder = new_holder(actor, action)
            self._record(conn, holder)
            with self._mutex:
                self._held = (conn, holder)
            try:
                yield holder
            finally:
                with self._mutex:
                    self._held = None
                # A lost connection freed it already; a stalled server must not hold the exit.
                with contextlib.suppress(psycopg.Error), GUARD.watch(conn):
                    self._session.forget(conn)
        finally:
            conn.close()

    def confirm(self) -> bool:
        """Ask the server whether this instance still holds the lock (its connection may have
        died with a restarted server, or been cut off): one bounded round trip."""
        with self._mutex:
            if self._held is None:
                return False
            conn = self._held[0]
            try:
                with GUARD.watch(conn):
                    return self._session.holds(conn, _backend(conn))
            except psycopg.Error:
                return False

    def _record(self, conn: psycopg.Connection[Any], holder: LockHolder) -> None:
        try:
            with GUARD.watch(conn):
                self._session.record(conn, _holder_data(holder))
        except psycopg.Error as exc:
            raise self._session.error(exc) from None

    def update_action(self, text: str) -> None:
        """Refine what the holder is doing (e.g. 'switch: verifying'); no-op if not held here."""
        with self._mutex:
            if self._held is None:
                return
            conn, old = self._held
            holder = LockHolder(old.user, text, old.since, old.pid, old.ssh_client, old.host)
            with contextlib.suppress(StateDirError):
                self._record(conn, holder)
            self._held = (conn, holder)

    def _named_holder(self) -> LockHolder | None:
        # The new holder writes its row just after taking the lock: wait a moment for it, as
        # long as the lock is held at all (a holder that just died leaves it free).
        deadline = time.monotonic() + _NAMING_GRACE_SECONDS
        while time.monotonic() < deadline:
            data = self._session.recorded()
            if data is None or data:
                return holder_from_data(data)
            time.sleep(0.02)
        return None

    def holder(self) -> LockHolder | None:
        """Who holds the lock, or None if free (a dead holder's row is not believed)."""
        data = self._session.recorded()
        if data == {}:  # held, its row not written yet: say so rather than "free"
            return LockHolder("unknown", "starting an operation", time.time(), 0)
        return holder_from_data(data)


class PgAgentLease:
    """The agent lease of one service (or host) in a shared database; standbys retry it."""

    def __init__(self, url: str, schema: str, name: str = "agent") -> None:
        self._session = _Session(url, schema, name)
        self._mutex = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None  # holding the lease
        self._standby: psycopg.Connection[Any] | None = None  # trying to take it
        self._backend = 0
        self._confirmed = 0.0  # monotonic time of the last confirmation

    def try_acquire(self) -> bool:
        """Take the lease if free (or confirm it if held here); True while this process holds it.
        A standby keeps its connection between tries: one cheap statement each."""
        with self._mutex:
            if self._conn is not None:
                return self._confirm_locked()
            if self._standby is None or self._standby.closed:
                self._standby = self._session.connect()
                self._say_standing_by(self._standby)
            conn = self._standby
            try:
                with GUARD.watch(conn):
                    got = self._session.try_lock(conn)
                    if got:
                        data = {
                            "pid": os.getpid(),
                            "since": time.time(),
                            "host": socket.gethostname(),
                        }
                        self._session.record(conn, data)
            except psycopg.Error as exc:
                self._standby = None
                with contextlib.suppress(psycopg.Error):
                    conn.close()
                raise self._session.error(exc) from None
            if not got:
                return False
            self._standby = None
            with contextlib.suppress(psycopg.Error):  # no longer a standby
                conn.execute(f"DELETE FROM {LOCKS_TABLE} WHERE name = %s", (self._standby_row,))
            self._conn, self._backend, self._confirmed = conn, _backend(conn), time.monotonic()
            return True

    @property
    def _standby_row(self) -> str:
        return f"{self._session.name}-standby:{socket.gethostname()}:{os.getpid()}"

    def _say_standing_by(self, conn: psycopg.Connection[Any]) -> None:
        """A row naming this standby, believed while its connection's backend lives (status
        shows who stands by beside who leads)."""
        data = {"pid": os.getpid(), "since": time.time(), "host": socket.gethostname()}
        with contextlib.suppress(psycopg.Error), GUARD.watch(conn):
            conn.execute(  # the rows of standbys that are gone
                f"DELETE FROM {LOCKS_TABLE} WHERE name LIKE %s AND backend_pid NOT IN "
                "(SELECT pid FROM pg_stat_activity)",
                (f"{self._session.name}-standby:%",),
            )
            conn.execute(
                f"INSERT INTO {LOCKS_TABLE} (name, data, backend_pid) VALUES (%s, %s, "
                "pg_backend_pid()) ON CONFLICT (name) DO UPDATE SET data = excluded.data, "
                "backend_pid = excluded.backend_pid",
                (self._standby_row, json.dumps(data)),
            )

    def confirm(self) -> bool:
        """Ask the server whether this process still holds the lease (before a change)."""
        with self._mutex:
            return self._conn is not None and self._confirm_locked()

    def _confirm_locked(self) -> bool:
        assert self._conn is not None
        try:
            with GUARD.watch(self._conn):  # a stalled store must not hold the agent's tick
                if self._session.holds(self._conn, self._backend):
                    self._confirmed = time.monotonic()
                    return True
        except psycopg.Error:
            pass
        self._drop_locked()
        return False

    @property
    def held(self) -> bool:
        """True while this instance holds the lease and confirmed it recently."""
        return self._conn is not None and time.monotonic() - self._confirmed < LEASE_TRUST_SECONDS

    def info(self) -> AgentInfo:
        """Which agent leads: its pid, host and since (its heartbeat comes from the store)."""
        data = self._session.recorded()
        if data is None:
            return AgentInfo(running=False)
        if not data:  # held, its row not written yet
            return AgentInfo(running=True)
        pid, since, host = data.get("pid"), data.get("since"), data.get("host")
        return AgentInfo(
            running=True,
            pid=pid if isinstance(pid, int) else None,
            since=float(since) if isinstance(since, int | float) else None,
            host=host if isinstance(host, str) else "",
            standbys=self._session.standbys(),
        )

    def release(self) -> None:
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(psycopg.Error), GUARD.watch(self._conn):
                    self._session.forget(self._conn)
            self._drop_locked()
            if self._standby is not None:
                with contextlib.suppress(psycopg.Error):
                    self._standby.close()
                self._standby = None

    def _drop_locked(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None


def _holder_data(holder: LockHolder) -> dict[str, Any]:
    return {
        "user": holder.user,
        "action": holder.action,
        "since": holder.since,
        "pid": holder.pid,
        "ssh_client": holder.ssh_client,
        "host": holder.host,
    }
