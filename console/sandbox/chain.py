"""A chain simulator: a CometBFT Postgres event sink that grows by one block every interval.

The reference service re-indexes from CometBFT's `psql` event sink, so the sandbox writes the same
four tables (`blocks`, `tx_results`, `events`, `attributes`). `seed_history` bulk-loads a long past
with COPY so a demo can start thousands of blocks behind; `run` then appends a block every interval,
which is what makes the head move while a candidate catches up (closing speed, not raw speed).

CLI: `python -m console.sandbox.chain --db-url-env CHAIN_DB_URL --history N --interval 1.0`.
The URL is read from an environment variable, never argv, so `ps` shows no password.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import psycopg

CHAIN_ID = "penumbra-sandbox-1"
BLOCK_SECONDS = 5.0  # the pretend block time of the seeded past
SEED_SLICE = 50_000  # heights per COPY round while seeding

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    rowid      BIGSERIAL PRIMARY KEY,
    height     BIGINT UNIQUE NOT NULL,
    chain_id   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS tx_results (
    rowid      BIGSERIAL PRIMARY KEY,
    block_id   BIGINT NOT NULL REFERENCES blocks(rowid),
    index      INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    tx_hash    TEXT NOT NULL,
    tx_result  BYTEA NOT NULL,
    UNIQUE (block_id, index)
);
CREATE TABLE IF NOT EXISTS events (
    rowid    BIGSERIAL PRIMARY KEY,
    block_id BIGINT NOT NULL REFERENCES blocks(rowid),
    tx_id    BIGINT NULL REFERENCES tx_results(rowid),
    type     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attributes (
    event_id      BIGINT NOT NULL REFERENCES events(rowid),
    key           TEXT NOT NULL,
    composite_key TEXT NOT NULL,
    value         TEXT NULL,
    UNIQUE (event_id, key)
);
CREATE INDEX IF NOT EXISTS tx_results_block_id ON tx_results (block_id);
CREATE INDEX IF NOT EXISTS events_block_id ON events (block_id);
"""


def tx_count(height: int) -> int:
    """Deterministic transactions per block: most blocks are empty, some carry one to three."""
    return (height % 3) + 1 if height % 5 == 0 else 0


def create_schema(url: str) -> None:
    """Create the event-sink tables if they do not exist yet."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)


def head(url: str) -> int:
    """The height an indexer aims for: `MAX(height) - 1` (the last block is still being written)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT MAX(height) - 1 FROM blocks").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _max_ids(conn: psycopg.Connection) -> tuple[int, int, int, int]:
    row = conn.execute(
        "SELECT (SELECT COALESCE(MAX(height), 0) FROM blocks),"
        " (SELECT COALESCE(MAX(rowid), 0) FROM blocks),"
        " (SELECT COALESCE(MAX(rowid), 0) FROM tx_results),"
        " (SELECT COALESCE(MAX(rowid), 0) FROM events)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def _tx_rows(
    block_id: int, height: int, created: datetime, first_tx_id: int
) -> Iterator[tuple[int, int, int, datetime, str, bytes]]:
    for index in range(tx_count(height)):
        tx_hash = hashlib.sha256(f"{height}:{index}".encode()).hexdigest().upper()
        yield first_tx_id + index, block_id, index, created, tx_hash, b"\x0a\x02ok"


def _copy_rows(
    cur: psycopg.Cursor[Any], table_and_columns: str, rows: Iterable[Sequence[Any]]
) -> None:
    with cur.copy(f"COPY {table_and_columns} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed_history(url: str, blocks: int) -> int:
    """Bulk-load heights up to `blocks` (continuing after any existing ones); return the new max.

    Row ids are assigned here, not by the sequences, so one COPY per table suffices; the sequences
    are moved past them afterwards so `run` can keep inserting normally. Seed before `run` starts.
    """
    create_schema(url)
    with psycopg.connect(url) as conn:
        last_height, last_block_id, last_tx, last_event = _max_ids(conn)
        if last_height >= blocks:
            return last_height
        now = datetime.now(UTC)
        with conn.cursor() as cur:
            # In slices, so a demo's million-block history does not sit in memory at once.
            for first in range(last_height + 1, blocks + 1, SEED_SLICE):
                txs: list[tuple[int, int, int, datetime, str, bytes]] = []
                events: list[tuple[int, int, int | None, str]] = []
                attributes: list[tuple[int, str, str, str]] = []
                with cur.copy(
                    "COPY blocks (rowid, height, chain_id, created_at) FROM STDIN"
                ) as copy:
                    for height in range(first, min(first + SEED_SLICE, blocks + 1)):
                        created = now - timedelta(seconds=BLOCK_SECONDS * (blocks - height + 1))
                        last_block_id += 1
                        copy.write_row((last_block_id, height, CHAIN_ID, created))
                        for tx in _tx_rows(last_block_id, height, created, last_tx + 1):
                            last_tx = tx[0]
                            txs.append(tx)
                            last_event += 1
                            events.append((last_event, last_block_id, tx[0], "tx"))
                            attributes.append((last_event, "hash", "tx.hash", tx[4]))
                _copy_rows(
                    cur, "tx_results (rowid, block_id, index, created_at, tx_hash, tx_result)", txs
                )
                _copy_rows(cur, "events (rowid, block_id, tx_id, type)", events)
                _copy_rows(cur, "attributes (event_id, key, composite_key, value)", attributes)
            for table in ("blocks", "tx_results", "events"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'rowid'),"
                    f" GREATEST((SELECT COALESCE(MAX(rowid), 0) FROM {table}), 1))"
                )
    return blocks


def append_block(conn: psycopg.Connection) -> int:
    """Append the next block and its transactions in one transaction; return its height."""
    with conn.transaction():
        row = conn.execute("SELECT COALESCE(MAX(height), 0) + 1 FROM blocks").fetchone()
        assert row is not None
        height = int(row[0])
        created = datetime.now(UTC)
        block = conn.execute(
            "INSERT INTO blocks (height, chain_id, created_at) VALUES (%s, %s, %s) RETURNING rowid",
            (height, CHAIN_ID, created),
        ).fetchone()
        assert block is not None
        for index in range(tx_count(height)):
            tx_hash = hashlib.sha256(f"{height}:{index}".encode()).hexdigest().upper()
            tx = conn.execute(
                "INSERT INTO tx_results (block_id, index, created_at, tx_hash, tx_result)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING rowid",
                (block[0], index, created, tx_hash, b"\x0a\x02ok"),
            ).fetchone()
            assert tx is not None
            event = conn.execute(
                "INSERT INTO events (block_id, tx_id, type) VALUES (%s, %s, 'tx') RETURNING rowid",
                (block[0], tx[0]),
            ).fetchone()
            assert event is not None
            conn.execute(
                "INSERT INTO attributes (event_id, key, composite_key, value)"
                " VALUES (%s, 'hash', 'tx.hash', %s)",
                (event[0], tx_hash),
            )
    return height


def run(url: str, interval: float, stop: threading.Event | None = None, burst: int = 1) -> None:
    """Append a block every `interval` seconds until `stop` is set (forever when None); with
    `burst` N, N blocks at once every N intervals (the same rate, as a chain whose blocks arrive
    in bunches: what a colour following the head must not mistake for falling behind).

    A lost database (Postgres restarted) is retried, not fatal: the chain keeps going afterwards.
    """
    burst = max(1, burst)
    interval *= burst
    stop = stop or threading.Event()
    create_schema(url)
    conn: psycopg.Connection | None = None
    next_at = time.monotonic()
    while not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
            for _ in range(burst):
                append_block(conn)
        except psycopg.OperationalError as exc:
            print(f"chain: database unavailable, retrying: {exc}".splitlines()[0], file=sys.stderr)
            if conn is not None:
                conn.close()
            conn = None
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
        next_at = max(next_at, time.monotonic() - interval)  # no burst after a long outage
    if conn is not None:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m console.sandbox.chain",
        description="Simulate a chain: seed a history, then append a block per interval.",
    )
    parser.add_argument(
        "--db-url-env",
        default="CHAIN_DB_URL",
        help="name of the environment variable holding the database URL",
    )
    parser.add_argument("--history", type=int, default=0, help="seed heights 1..N first")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between blocks")
    parser.add_argument(
        "--burst", type=int, default=1, help="blocks at once, every BURST intervals (default 1)"
    )
    parser.add_argument("--seed-only", action="store_true", help="seed the history and exit")
    args = parser.parse_args(argv)
    url = os.environ.get(args.db_url_env, "")
    if not url:
        print(f"ERROR: set {args.db_url_env} to the chain database URL.", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        create_schema(url)
        if args.history > 0:
            seed_history(url, args.history)
        if not args.seed_only:
            run(url, args.interval, stop, args.burst)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"ERROR: cannot reach the chain database: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
