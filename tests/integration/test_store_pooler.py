"""The shared store behind a real PgBouncer (Debian's package) in front of a real PostgreSQL.

In transaction pooling mode the operator lock and the agent lease refuse to run, in one sentence
that names the cause and the way out (a session advisory lock there would stay with a server
session the client no longer talks to); in session pooling mode — as directly — the store, the
lock and the lease work, and the lock is really held on the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from console.core.fsutil import StateDirError
from console.core.lock import LockHeld
from console.core.model import Actor
from console.core.store.store import Store
from console.drivers.store.pg_lock import PgAgentLease, PgOperatorLock
from console.drivers.store.postgres import PostgresDatabase
from console.sandbox.postgres_proc import PostgresServer
from tests import ports
from tests.pgbouncer_proc import available, pgbouncer
from tests.store_sites import postgres_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not available(), reason="PgBouncer is not installed (./dev setup)"),
]

PG_PORT, BOUNCER_PORT = ports.STORE_POOLER
SCHEMA = "bluegreen_pooled"
REFUSAL = (
    "goes through a pooler in transaction mode (e.g. PgBouncer pool_mode = transaction), which "
    "hands each transaction another server session, and bluegreen's locks need one session. "
    "Point [store] url at PostgreSQL itself, or at a pool in session mode."
)


@pytest.fixture(scope="module")
def pooled() -> Iterator[tuple[PostgresServer, str]]:
    with (
        postgres_server(PG_PORT) as server,
        pgbouncer(server, Path("/var/tmp/bgtest-store-pooler"), BOUNCER_PORT) as url,
    ):
        yield server, url


def test_transaction_pooling_is_refused_in_one_sentence(
    pooled: tuple[PostgresServer, str],
) -> None:
    server, url = pooled
    through = url.format(db="store_tx")
    Store(PostgresDatabase(server.url("store"), SCHEMA)).close()  # the schema, made directly
    lock = PgOperatorLock(through, SCHEMA)
    with pytest.raises(StateDirError) as lock_refused, lock.acquire("switch", Actor("bob")):
        pytest.fail("the operator lock was taken through a transaction pooler")
    lease = PgAgentLease(through, SCHEMA)
    with pytest.raises(StateDirError) as lease_refused:
        lease.try_acquire()
    for refused in (lock_refused, lease_refused):
        text = str(refused.value)
        assert text == f"The connection to 127.0.0.1:{BOUNCER_PORT}/store_tx (schema {SCHEMA}) " + (
            REFUSAL
        )
        assert server.password not in text and "\n" not in text
    with psycopg.connect(server.url("store"), autocommit=True) as admin:
        held = admin.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert held.fetchone() == (0,)  # refused before any lock was taken on the server


def test_session_pooling_holds_the_lock_and_the_lease_on_the_server(
    pooled: tuple[PostgresServer, str],
) -> None:
    server, url = pooled
    through = url.format(db="store_session")
    store = Store(PostgresDatabase(through, SCHEMA))
    direct = PgOperatorLock(server.url("store"), SCHEMA)
    lease = PgAgentLease(through, SCHEMA)
    try:
        store.set_live("green", "blue")
        assert store.live() == "green"
        with PgOperatorLock(through, SCHEMA).acquire("switch", Actor("bob")):
            seen = direct.holder()  # a direct connection sees the pooled one's lock
            assert seen is not None and seen.user == "bob" and seen.action == "switch"
            with pytest.raises(LockHeld), direct.acquire("deploy", Actor("alice")):
                pass
        assert direct.holder() is None
        assert lease.try_acquire() and lease.confirm()
        standby = PgAgentLease(server.url("store"), SCHEMA)
        assert not standby.try_acquire()  # held for real, on the server
        standby.release()
    finally:
        lease.release()
        store.close()
