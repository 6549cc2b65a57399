"""`kind = "sql"`: one query on a PostgreSQL database, over ONE persistent connection.

The old monitor spawned `psql` for every reading. Here the source keeps one connection for its
lifetime (read-only, short statement timeout, named `bluegreen` in pg_stat_activity) and, after any
failure, reconnects on the next read. Several rows (Penumbra's cometindex keeps one watermark per
index) need `aggregate`; `SELECT MIN(height) FROM index_watermarks` does the same in the query.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from console.core import timeouts
from console.core.contracts.progress import Reading, SourceUnavailable, SourceUnreachable
from console.core.redact import Redactor
from console.drivers.progress.base import BaseSource, Place
from console.drivers.progress.values import as_height, combine

CONNECT_TIMEOUT_SECONDS = timeouts.SQL_CONNECT_SECONDS
_MAX_ROWS = 10_000  # a query that returns more rows than this is a mistake, not a height


class SqlProgress(BaseSource):
    """`read()` runs `query` (first column of each row) on a persistent read-only connection."""

    def __init__(self, place: Place, url: str, query: str, aggregate: str = "") -> None:
        super().__init__(place)
        self.url = url
        self.query = query
        self.aggregate = aggregate
        self.statement_timeout_ms = place.statement_timeout_ms
        self._redactor = Redactor([url])
        # `statement_timeout` is enforced by the server: a stalled (SIGSTOPped, swapped-out)
        # server never enforces it, so the client gives up on the socket a little later.
        self.socket_timeout = timeouts.sql_socket_seconds(self.statement_timeout_ms)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()  # a connection serves one query at a time
        self._timed_out = False

    def _connect(self) -> psycopg.Connection[Any]:
        timeout_ms = int(self.statement_timeout_ms)
        options = f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}"
        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="bluegreen",
            options=options,
            # Notice a silently dead peer (host gone, firewall) instead of waiting on TCP defaults.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=3,
            keepalives_count=3,
        )

    def read(self) -> Reading:
        return Reading(self.read_height())

    def read_height(self) -> int | None:
        """The height now, or None when the query yields nothing (empty table, no watermark yet)."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect_or_explain()
            try:
                rows = self._execute_bounded(self._conn)
            except pg_errors.UndefinedTable:
                return None  # the service has not created its tables yet: not started
            except psycopg.Error as exc:
                self._drop_connection()
                if self._timed_out:
                    raise SourceUnreachable(self._no_answer()) from None
                raise SourceUnavailable(self._sentence(exc)) from None
        name, key = self.place.name, self.place.key
        heights = [as_height(row[0], name, f"{key}.query") for row in rows if row]
        return combine(heights, self.aggregate, f"{name} query", f"{key}.aggregate")

    def _execute_bounded(self, conn: psycopg.Connection[Any]) -> list[Any]:
        """Run the query; past `socket_timeout` a watchdog shuts the socket down, which makes
        the blocked read return at once (libpq has no client-side query timeout)."""
        self._timed_out = False
        watchdog = threading.Timer(self.socket_timeout, self._abort, args=(conn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            return conn.execute(self.query).fetchmany(_MAX_ROWS)
        finally:
            watchdog.cancel()

    def _abort(self, conn: psycopg.Connection[Any]) -> None:
        self._timed_out = True
        # shutdown() acts on the socket itself, so a duplicate descriptor reaches it; the
        # connection is dropped and reopened by the next read.
        with (
            contextlib.suppress(OSError, psycopg.Error),
            socket.socket(fileno=os.dup(conn.fileno())) as sock,
        ):
            sock.shutdown(socket.SHUT_RDWR)

    def _no_answer(self) -> str:
        return (
            f"{self.place.name} did not answer within "
            f"{timeouts.seconds_text(self.socket_timeout)} s (the server is hung or overloaded); "
            "retrying."
        )

    def _connect_or_explain(self) -> psycopg.Connection[Any]:
        try:
            return self._connect()
        except psycopg.OperationalError as exc:
            if "timeout" in str(exc).lower():
                raise SourceUnreachable(
                    f"{self.place.name} did not answer within {CONNECT_TIMEOUT_SECONDS} s while "
                    "connecting (the server is hung, overloaded or unreachable); retrying."
                ) from None
            raise SourceUnreachable(self._sentence(exc)) from None
        except Exception as exc:  # a malformed URL (ProgrammingError, ValueError): not transient
            detail = self._redactor.redact(str(exc).strip().splitlines()[0] if str(exc) else "")
            raise SourceUnavailable(
                f"{self.place.name} URL is not valid ({detail or type(exc).__name__}); "
                "fix it in the configuration."
            ) from None

    def plan(self) -> str:
        """EXPLAIN of the query: tells an operator when a height query would scan a whole table."""
        with psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="bluegreen",
        ) as conn:
            rows = conn.execute("EXPLAIN " + self.query).fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing a broken connection may fail; it is gone anyway.
            with contextlib.suppress(Exception):
                conn.close()

    def _sentence(self, exc: psycopg.Error) -> str:
        name = self.place.name
        if isinstance(exc, pg_errors.QueryCanceled):
            return (
                f"{name} query took longer than {self.statement_timeout_ms} ms and was cancelled; "
                "check the database load or add an index."
            )
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return (
                f"{name} refused the height query (permission denied); grant SELECT to this user."
            )
        if isinstance(exc, pg_errors.InvalidPassword):
            return (
                f"{name} rejected the password; check the URL in the configuration or secrets file."
            )
        if isinstance(exc, pg_errors.InvalidCatalogName):
            return f"{name} does not exist on the server; check the URL's database name."
        if isinstance(exc, psycopg.OperationalError):
            return f"{name} is unreachable ({self._reason(exc)}); retrying."
        detail = self._redactor.redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return (
            f"{name} height query failed ({detail or type(exc).__name__}); "
            f"check {self.place.key}.query."
        )

    def _reason(self, exc: Exception) -> str:
        text = str(exc).lower()
        for needle, reason in (
            ("connection refused", "connection refused"),
            ("timeout expired", "connection timed out"),
            ("timed out", "connection timed out"),
            ("could not translate host name", "unknown host"),
            ("name or service not known", "unknown host"),
            ("password authentication failed", "password rejected"),
            ("no route to host", "no route to host"),
            ("terminating connection", "the server shut the connection down"),
            ("server closed the connection", "the server closed the connection"),
            ("the database system is starting up", "the server is starting up"),
            ("does not exist", "no such database on the server"),
            ("the database system is shutting down", "the server is shutting down"),
            ("too many clients", "too many connections"),
            ("ssl", "TLS negotiation failed"),
        ):
            if needle in text:
                return reason
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return self._redactor.redact(first)[:160]
