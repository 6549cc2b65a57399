"""Where heights come from: a SQL query on a Postgres database, or a field of an HTTP JSON endpoint.

The old monitor spawned `psql` for every reading. Here each source keeps ONE connection open for
its lifetime (read-only, short statement timeout, named `bluegreen` in pg_stat_activity) and, after
any failure, reconnects on the next read. Failures are `SourceUnavailable` with one redacted
sentence naming the source; they never carry the URL or its password.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
from decimal import Decimal
from typing import Any, Protocol

import httpx
import psycopg
from psycopg import errors as pg_errors

from console.core import timeouts
from console.core.config import Config
from console.core.model import Color
from console.core.redact import Redactor

CONNECT_TIMEOUT_SECONDS = timeouts.SQL_CONNECT_SECONDS
HTTP_TIMEOUT_SECONDS = timeouts.HEIGHT_HTTP_SECONDS


class SourceUnavailable(Exception):
    """A height could not be read this time; str() is one redacted sentence for the operator."""


class HeightSource(Protocol):
    label: str

    def read(self) -> int | None: ...

    def close(self) -> None: ...


def _as_height(value: object, label: str) -> int | None:
    """Heights arrive as ints, Decimals or numeric strings (Tendermint's JSON); None stays None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):  # True is not a height
        return value
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    shown = str(value)[:40]
    raise SourceUnavailable(
        f"The {label} returned {shown!r}, not a height; check the query or field."
    )


def _the(label: str) -> str:
    """'blue database' → 'The blue database', the subject of every sentence about a source."""
    return f"The {label}"


class SqlHeight:
    """`read()` runs `query` (one row, one integer column) on a persistent read-only connection."""

    def __init__(
        self,
        url: str,
        query: str,
        statement_timeout_ms: int = 2000,
        *,
        label: str = "database",
    ) -> None:
        self.url = url
        self.query = query
        self.statement_timeout_ms = statement_timeout_ms
        self.label = label
        self._redactor = Redactor([url])
        # `statement_timeout` is enforced by the server: a stalled (SIGSTOPped, swapped-out)
        # server never enforces it, so the client gives up on the socket a little later.
        self.socket_timeout = timeouts.sql_socket_seconds(statement_timeout_ms)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()  # a connection serves one query at a time
        self._timed_out = False

    def __repr__(self) -> str:  # never show the URL
        return f"SqlHeight(label={self.label!r})"

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

    def read(self) -> int | None:
        """The height now, or None when the query yields nothing (empty table, no watermark yet)."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect_or_explain()
            try:
                row = self._execute_bounded(self._conn)
            except pg_errors.UndefinedTable:
                return None  # the service has not created its tables yet: not started
            except psycopg.Error as exc:
                self._drop_connection()
                if self._timed_out:
                    raise SourceUnavailable(self._no_answer()) from None
                raise SourceUnavailable(self._sentence(exc)) from None
        if row is None or not row:
            return None
        return _as_height(row[0], self.label)

    def _execute_bounded(self, conn: psycopg.Connection[Any]) -> Any:
        """Run the query; past `socket_timeout` a watchdog shuts the socket down, which makes
        the blocked read return at once (libpq has no client-side query timeout)."""
        self._timed_out = False
        watchdog = threading.Timer(self.socket_timeout, self._abort, args=(conn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            return conn.execute(self.query).fetchone()
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
            f"{_the(self.label)} did not answer within "
            f"{timeouts.seconds_text(self.socket_timeout)} s (the server is hung or overloaded); "
            "retrying."
        )

    def _connect_or_explain(self) -> psycopg.Connection[Any]:
        try:
            return self._connect()
        except psycopg.OperationalError as exc:
            if "timeout" in str(exc).lower():
                raise SourceUnavailable(
                    f"{_the(self.label)} did not answer within {CONNECT_TIMEOUT_SECONDS} s while "
                    "connecting (the server is hung, overloaded or unreachable); retrying."
                ) from None
            raise SourceUnavailable(self._sentence(exc)) from None
        except Exception as exc:  # a malformed URL (ProgrammingError, ValueError): not transient
            detail = self._redactor.redact(str(exc).strip().splitlines()[0] if str(exc) else "")
            raise SourceUnavailable(
                f"{_the(self.label)} URL is not valid ({detail or type(exc).__name__}); "
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
        name = _the(self.label)
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
        return f"{name} height query failed ({detail or type(exc).__name__}); check the query."

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


class HttpHeight:
    """`read()` GETs a JSON document and returns the number at a dotted path (e.g. Tendermint's
    `result.sync_info.latest_block_height`, which is a string). List indices are numbers."""

    def __init__(self, url: str, field: str, *, label: str = "HTTP endpoint") -> None:
        self.url = url
        self.field = field
        self.label = label
        self._path = [part for part in field.split(".") if part]
        self._client = httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=True)
        self._redactor = Redactor([url])

    def __repr__(self) -> str:
        return f"HttpHeight(label={self.label!r}, field={self.field!r})"

    def read(self) -> int | None:
        name = _the(self.label)
        try:
            response = self._client.get(self.url)
        except httpx.TimeoutException:
            raise SourceUnavailable(f"{name} did not answer in time; retrying.") from None
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "cannot connect"
            raise SourceUnavailable(f"{name} is unreachable ({reason}); retrying.") from None
        except httpx.HTTPError as exc:
            detail = self._redactor.redact(type(exc).__name__)
            raise SourceUnavailable(f"{name} request failed ({detail}); retrying.") from None
        if not response.is_success:
            raise SourceUnavailable(f"{name} answered HTTP {response.status_code}; retrying.")
        try:
            value: Any = response.json()
        except ValueError:
            raise SourceUnavailable(f"{name} did not answer JSON; check head.url.") from None
        for part in self._path:
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                raise SourceUnavailable(
                    f"{name} answer has no field '{self.field}' (stopped at '{part}'); "
                    "check head.field."
                )
        return _as_height(value, self.label)

    def close(self) -> None:
        self._client.close()


def make_head_source(config: Config) -> SqlHeight | HttpHeight:
    """The chain head, as configured in [head]."""
    if config.head.kind == "http":
        return HttpHeight(config.head.url, config.head.field, label="chain head endpoint")
    return SqlHeight(
        config.head_db_url,
        config.head.query,
        config.readiness.statement_timeout_ms,
        label="source database",
    )


def make_candidate_source(config: Config, color: Color) -> SqlHeight:
    """A colour's indexed height, from its own destination database."""
    return SqlHeight(
        config.slot(color).sampling_db_url,
        config.candidate.query,
        config.readiness.statement_timeout_ms,
        label=f"{color} database",
    )
