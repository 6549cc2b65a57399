"""Opening a connection to the shared store: its session settings, and a pooler's mode.

Settings go in with `set_config` after the connection opens, not in the startup packet's
`options`: PgBouncer refuses `options` outright ("unsupported startup parameter: options", seen
with Debian's 1.18), in every pool mode, and a pooler told to ignore it would silently drop the
search path. One statement sets them and reads the server's backend pid.

A pooler answers the client's startup with a backend key of its own, so a pid that differs from
`pg_backend_pid()` says one is in between. Session mode is fine: the client keeps one server
session from connect to close. Transaction mode is not: between transactions the client's server
session goes back to the pool, so session advisory locks and session settings stay with a
session the client no longer talks to. `_transaction_pooled` tells the two apart: a second client
asks for its backend right after ours finished a statement; in transaction mode the pooler hands
it ours (PgBouncer reuses the most recently freed server connection first), which can never
happen in session mode or without a pooler.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from console.core.fsutil import StateDirError
from console.drivers.store.stall_guard import GUARD

CONNECT_TIMEOUT_SECONDS = 5
# Client side: notice a silently dead server (SIGKILLed host, cut link) within ~11 s.
CLIENT_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


def pooler_refusal(where: str) -> str:
    return (
        f"The connection to {where} goes through a pooler in transaction mode (e.g. PgBouncer "
        "pool_mode = transaction), which hands each transaction another server session, and "
        "bluegreen's locks need one session. Point [store] url at PostgreSQL itself, or at a "
        "pool in session mode."
    )


def connect(
    url: str, settings: dict[str, str], where: str, **kwargs: Any
) -> psycopg.Connection[Any]:
    """An autocommit connection with `settings` in force for its whole session; refuses (one
    sentence, a StateDirError) a pooler in transaction mode. psycopg errors pass through."""
    conn: psycopg.Connection[Any] = psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS, **kwargs
    )
    try:
        calls = ", ".join("set_config(%s, %s, false)" for _ in settings)
        values = [part for pair in settings.items() for part in pair]
        with GUARD.watch(conn):  # a server stalled since the connect must not hold us
            row = conn.execute(f"SELECT pg_backend_pid(), {calls}", values).fetchone()
        backend = int(row[0]) if row is not None else conn.info.backend_pid
        if backend != conn.info.backend_pid and _transaction_pooled(url, backend):
            raise StateDirError(pooler_refusal(where))
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            conn.close()
        raise
    return conn


def _transaction_pooled(url: str, ours: int) -> bool:
    """Behind a pooler: True when a second client is handed the server session ours just used."""
    with (
        psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as other,
        GUARD.watch(other),
    ):
        row = other.execute("SELECT pg_backend_pid()").fetchone()
    return row is not None and int(row[0]) == ours
