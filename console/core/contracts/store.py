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

from console.core.model import Actor, AgentInfo, LockHolder


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

    def wait_for_change(self, timeout: float) -> bool:
        """Wait up to `timeout` s for a commit by anyone (True), or time out (False); a store
        that cannot tell just waits."""
        ...

    def close(self) -> None: ...


class OperationLock(Protocol):
    """One mutating operation at a time: a flock in the state directory (core/lock.py), or an
    advisory lock in the shared database (drivers/store/pg_lock.py)."""

    def acquire(self, action: str, actor: Actor) -> AbstractContextManager[LockHolder]:
        """Hold it for the `with` block, or raise LockHeld at once naming the holder."""
        ...

    def update_action(self, text: str) -> None: ...

    def holder(self) -> LockHolder | None: ...

    def confirm(self) -> bool:
        """Whether this instance still holds it (asked before a change to the proxy or runtime:
        a shared store's lock dies with its connection)."""
        ...


class Lease(Protocol):
    """The one agent that acts; with a shared store, others wait as standbys."""

    @property
    def held(self) -> bool: ...

    def try_acquire(self) -> bool:
        """Take it if free (confirm it if held here); True while this process holds it."""
        ...

    def confirm(self) -> bool:
        """Whether this process still holds it, asked before a change to the proxy or runtime."""
        ...

    def info(self) -> AgentInfo: ...

    def release(self) -> None: ...
