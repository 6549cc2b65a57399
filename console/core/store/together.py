"""Several of the store's writes as one transaction: `with store.together(): …`.

A switch records the new live colour, the deployment's phase, the watch window and its event in
separate calls; a database that stops between two of them would keep half a switch. Inside
`together()` every write of this thread joins one transaction, so the record is whole or absent
(and the agent, which reconciles the store with the proxy, records the rest once it answers).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager

from console.core.contracts.store import SqlConnection, StateDatabase


class GroupedWrites:
    """`database`, whose writes inside `together()` share the thread's one transaction."""

    def __init__(self, database: StateDatabase) -> None:
        self.database = database
        self.read_only = database.read_only
        self._local = threading.local()

    @property
    def where(self) -> str:
        return self.database.where

    def read(self) -> AbstractContextManager[SqlConnection]:
        return self.database.read()

    @contextlib.contextmanager
    def write(self) -> Iterator[SqlConnection]:
        joined: SqlConnection | None = getattr(self._local, "conn", None)
        if joined is not None:
            yield joined
            return
        with self.database.write() as conn:
            yield conn

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:  # already inside one
            yield
            return
        with self.database.write() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def wait_for_change(self, timeout: float) -> bool:
        return self.database.wait_for_change(timeout)

    def close(self) -> None:
        self.database.close()
