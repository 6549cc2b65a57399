"""What the store asks of the database under it: connections that run SQL, in transactions.

`console/core/store/db.py` is SQLite in the state directory (the default, one host);
`console/drivers/store/postgres.py` is PostgreSQL, shared by every host. `Store` writes one SQL
both understand: `?` placeholders, `INSERT … ON CONFLICT … DO UPDATE`, `RETURNING id`, and
migrations in SQLite's types, which the PostgreSQL side translates. A row answers both `row[0]`
and `row["name"]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Rows(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlConnection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Rows: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


class StateDatabase(Protocol):
    """One store's database. Every failure leaves it as a `StateDirError` (one sentence: what is
    wrong, what to do); a write on a read-only one raises `AccessDenied`."""

    read_only: bool

    @property
    def where(self) -> str:
        """Where it is, for messages: a path, or a URL without its password."""
        ...

    def read(self) -> AbstractContextManager[SqlConnection]:
        """A connection in autocommit: each statement sees the latest commit."""
        ...

    def write(self) -> AbstractContextManager[SqlConnection]:
        """One transaction: the block's statements commit together, or none."""
        ...

    def close(self) -> None: ...
