"""`kind = "sql"`: the parity query on each colour's database, `{height}` bound as a parameter.

Each colour keeps one read-only connection with the progress source's bounds and sentences
(console/drivers/progress/sql.py): the statement timeout, the socket watchdog, reconnect after a
failure. The query text is never formatted with the height: `{height}` becomes `%(height)s`.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from console.core.config.parity import HEIGHT_PLACEHOLDER, SqlParity
from console.core.config.schema import Config
from console.core.contracts.progress import SourceUnavailable, SourceUnreachable
from console.core.measures.parity import NoValue
from console.core.model import COLORS, Color
from console.drivers.progress.base import Place
from console.drivers.progress.sql import SqlProgress

_MAX_ROWS = 1000  # parity compares a few rows at one height, not a table


def bind_height(query: str) -> str:
    """The query with `{height}` as a named parameter; a literal % is escaped for psycopg."""
    return query.replace("%", "%%").replace(HEIGHT_PLACEHOLDER, "%(height)s")


class _ColourQuery(SqlProgress):
    """SqlProgress's connection and sentences, running a parameterised query."""

    def rows(self, height: int) -> list[Any]:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect_or_explain()
            try:
                self._params = {"height": height}
                return self._execute_bounded(self._conn)
            except pg_errors.UndefinedTable:
                raise SourceUnavailable(
                    f"{self.place.name} has no such table yet (the service has not created it); "
                    f"check {self.place.key}.query."
                ) from None
            except psycopg.Error as exc:
                self._drop_connection()
                if self._timed_out:
                    raise SourceUnreachable(self._no_answer()) from None
                raise SourceUnavailable(self._sentence(exc)) from None

    def _execute_bounded(self, conn: psycopg.Connection[Any]) -> list[Any]:
        self._timed_out = False
        watchdog = threading.Timer(self.socket_timeout, self._abort, args=(conn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            return conn.execute(self.query, self._params).fetchmany(_MAX_ROWS)
        finally:
            watchdog.cancel()


class SqlParityProbe:
    kind = "sql"

    def __init__(self, spec: SqlParity, index: int, config: Config) -> None:
        self.name = spec.name
        query = bind_height(spec.query)
        timeout_ms = config.readiness.statement_timeout_ms
        self._queries = {
            color: _ColourQuery(
                Place(f"parity[{index}]", f"{color} database", color, timeout_ms),
                config.slot(color).sampling_db_url,
                query,
            )
            for color in COLORS
        }

    def value(self, color: Color, height: int) -> object:
        rows = self._queries[color].rows(height)
        if not rows:
            raise NoValue(f"no row at height {height}")
        if len(rows) == 1 and len(rows[0]) == 1:
            return rows[0][0]
        return [list(row) for row in rows]

    def close(self) -> None:
        for query in self._queries.values():
            query.close()
