"""Where a store under test lives: an SQLite state directory, or a schema of a real PostgreSQL
server started for the module. The store contract (tests/integration/test_store_contract.py)
runs unchanged on both; each site also answers what only it can (its raw bytes, its version)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import psycopg
import pytest
from psycopg import sql

from console.core.store.store import DB_FILE, Store
from console.drivers.store.postgres import VERSION_TABLE, PostgresDatabase
from console.sandbox.postgres_proc import PostgresServer, find_pg_bin
from tests import ports

REPO = Path(__file__).resolve().parents[1]
# Traversable by the postgres user, unlike /root; one cluster per port, since modules using it
# run side by side.
PG_ROOT = Path("/var/tmp/bgtest-store")
Redact = Callable[[str], str] | None


class StoreSite(Protocol):
    def open(self, redact: Redact = None) -> Store: ...

    def opener(self) -> str:
        """Python source that opens the same store as `s` (for a second process)."""
        ...

    def raw_bytes(self) -> bytes:
        """Everything the database holds, as bytes (to look for a secret)."""
        ...

    def set_version(self, version: int) -> None:
        """Mark the store as written by a bluegreen of schema `version`."""
        ...


class SqliteSite:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def open(self, redact: Redact = None) -> Store:
        return Store.open(self.state_dir, redact=redact)

    def opener(self) -> str:
        return (
            f"from console.core.store.store import Store\ns = Store.open({str(self.state_dir)!r})"
        )

    def raw_bytes(self) -> bytes:
        return b"".join(path.read_bytes() for path in self.state_dir.glob(f"{DB_FILE}*"))

    def set_version(self, version: int) -> None:
        raw = sqlite3.connect(self.state_dir / DB_FILE)
        raw.execute(f"PRAGMA user_version = {version}")
        raw.close()


class PostgresSite:
    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema

    def open(self, redact: Redact = None, read_only: bool = False) -> Store:
        return Store(PostgresDatabase(self.url, self.schema, read_only), redact=redact)

    def opener(self) -> str:
        return (
            "from console.core.store.store import Store\n"
            "from console.drivers.store.postgres import PostgresDatabase\n"
            f"s = Store(PostgresDatabase({self.url!r}, {self.schema!r}))"
        )

    def raw_bytes(self) -> bytes:
        with psycopg.connect(self.url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.schema,),
            ).fetchall()
            dump = []
            for (table,) in tables:
                query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                    sql.Identifier(self.schema), sql.Identifier(table)
                )
                dump += [row[0] for row in conn.execute(query).fetchall()]
        return "\n".join(dump).encode()

    def set_version(self, version: int) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("UPDATE {}.{} SET version = %s").format(
                    sql.Identifier(self.schema), sql.Identifier(VERSION_TABLE)
                ),
                (version,),
            )

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )


@contextlib.contextmanager
def postgres_server(port: int = ports.STORE_CONTRACT[0]) -> Iterator[PostgresServer]:
    """A private PostgreSQL for the module, with a database `store` (removed afterwards)."""
    server = PostgresServer(PG_ROOT / f"pg-{port}", port, password=secrets.token_urlsafe(12))
    server.destroy()  # a crashed earlier run may have left a cluster with another password
    server.start()
    server.wait_ready()
    try:
        server.create_database("store")
        yield server
    finally:
        server.destroy()


@contextlib.contextmanager
def sites(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StoreSite]:
    """A fresh store of `kind`: a new state directory, or a new schema on the module's server
    (its `postgres` fixture)."""
    if kind == "sqlite":
        yield SqliteSite(tmp_path / "state")
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    site = PostgresSite(server.url("store"), f"t_{uuid.uuid4().hex[:12]}")
    try:
        yield site
    finally:
        site.drop()


def stall(server: PostgresServer) -> Callable[[], None]:
    """SIGSTOP the cluster (the postmaster and every process it forked): its kernel still
    acknowledges, so nothing times out by itself. Returns what resumes it.

    The postmaster stops first, so that it forks nothing more; its children are then stopped
    until a listing finds no new one (a backend forked just before it stopped would otherwise
    go on answering), and a child that exited meanwhile is no failure."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGSTOP)
    stopped = [postmaster]
    while True:
        listed = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        new = [pid for pid in map(int, listed) if pid not in stopped]
        if not new:
            break
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)

    def resume() -> None:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    return resume


def kill(server: PostgresServer) -> Callable[[], None]:
    """`pg_ctl stop -m immediate`: every session ends at once, its locks with it, as a crash
    would. Returns what starts it again."""
    argv = [find_pg_bin("pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "stop"]
    subprocess.run(server._argv(argv), check=True, capture_output=True)
    return server.start


def down(server: PostgresServer, how: str) -> Callable[[], None]:
    """`how` = "stalled" or "killed"; returns what brings the server back."""
    return stall(server) if how == "stalled" else kill(server)
