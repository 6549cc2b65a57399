#!/usr/bin/python3
"""Stand-in for the reference explorer backend (a Rust `cometindex` app), faithful where it matters.

Runs INSIDE the sandbox image: Python stdlib + psycopg 3.1 (Debian bookworm's python3-psycopg) only.

It re-indexes a CometBFT Postgres event sink (`blocks`, `tx_results`) into a destination database,
1000 blocks per transaction together with the `index_watermarks` row, at INDEX_SPEED blocks/s. It
logs like `tracing` does (ANSI colours unless NO_COLOR=1), including the library line that prints the
database URLs with their passwords in clear — the console must cope with exactly that. `/health`
answers 200 from startup, even mid re-index: health is not readiness.

Test knobs (env): INDEX_SPEED, CRASH_AT_HEIGHT, STALL_AT_HEIGHT, VERSION, and the deliberate data
bug WRONG_HASH_EVERY=N (every N-th block gets a wrong `root`: a release that indexes wrong data
while staying healthy and caught up, which only a parity check catches).

This file is the indexer and the entry point; the logs are tracing_log.py, the HTTP API
graphql_api.py (copied next to it in the image).
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time
from http.server import ThreadingHTTPServer

import psycopg

from graphql_api import make_handler
from tracing_log import Log, first_line, redact_url

INDEX_NAME = "explorer"
INDEX_VERSION = 1  # schema version of the index; stored in index_watermarks.version
BATCH_BLOCKS = 1000  # blocks per destination transaction, as the reference does
DEFAULT_GENESIS = "/usr/local/share/explorer/genesis.json"

MIGRATIONS = """
CREATE TABLE IF NOT EXISTS index_watermarks (
    index_name TEXT PRIMARY KEY,
    height     BIGINT NOT NULL,
    version    BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS explorer_block_details (
    height           BIGINT PRIMARY KEY,
    root             TEXT NOT NULL,
    timestamp        TIMESTAMPTZ NOT NULL,
    num_transactions INTEGER NOT NULL,
    chain_id         TEXT
);
"""


def block_root(height, wrong_every=None):
    """The block's hash as the reference stores it; WRONG_HASH_EVERY=N spoils every N-th one."""
    if wrong_every and height % wrong_every == 0:
        return hashlib.sha256(b"wrong %d" % height).hexdigest()
    return hashlib.sha256(b"%d" % height).hexdigest()


def env_int(name):
    """An integer knob from the environment; unset or not a number means "not set"."""
    try:
        return int(os.environ.get(name, "").strip())
    except ValueError:
        return None


# ── shared state between the indexer thread (main) and the HTTP threads ───────────────────────
class State:
    def __init__(self, version):
        self.version = version
        self.height = 0  # last committed watermark
        self.target = 0
        self.stop = threading.Event()


# ── the indexer ───────────────────────────────────────────────────────────────────────────────
class Indexer:
    def __init__(self, args, state, log):
        self.src_url = args.src
        self.dst_url = args.dst
        self.poll = args.polling_interval_ms / 1000.0
        self.state = state
        self.log = log
        self.speed = max(1, env_int("INDEX_SPEED") or 400)
        self.crash_at = env_int("CRASH_AT_HEIGHT")
        self.stall_at = env_int("STALL_AT_HEIGHT")
        self.wrong_every = env_int("WRONG_HASH_EVERY")
        self.src = None
        self.dst = None

    def connect(self):
        if self.src is None or self.src.closed:
            # What sqlx logs when its pool connects: the URL, password and all (faithfully).
            self.log.info("sqlx::postgres", "connecting to " + self.src_url)
            self.src = psycopg.connect(self.src_url, autocommit=True, connect_timeout=5)
        if self.dst is None or self.dst.closed:
            self.log.info("sqlx::postgres", "connecting to " + self.dst_url)
            self.dst = psycopg.connect(self.dst_url, connect_timeout=5)

    def close(self):
        for conn in (self.src, self.dst):
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass
        self.src = self.dst = None

    def migrate(self):
        with psycopg.connect(self.dst_url, connect_timeout=5) as conn:
            conn.execute(MIGRATIONS)
            conn.execute(
                "INSERT INTO index_watermarks (index_name, height, version) VALUES (%s, 0, %s)"
                " ON CONFLICT (index_name) DO NOTHING",
                (INDEX_NAME, INDEX_VERSION),
            )
            row = conn.execute(
                "SELECT height FROM index_watermarks WHERE index_name = %s", (INDEX_NAME,)
            ).fetchone()
        self.state.height = int(row[0])

    def source_target(self):
        row = self.src.execute("SELECT MAX(height) - 1 FROM blocks").fetchone()
        return max(0, int(row[0])) if row and row[0] is not None else 0

    def catchup_status(self, target):
        self.log.info(
            "cometindex::indexer",
            'catchup status src_height=Height(%d) index_states={"%s": %d}'
            % (target, INDEX_NAME, self.state.height),
            span="catchup",
        )

    def run(self):
        """Poll the source forever; DB errors are logged and retried with backoff."""
        backoff = 0.5
        last_completed = 0.0
        while not self.state.stop.is_set():
            try:
                self.connect()
                self.state.target = self.source_target()
                self.catchup_status(self.state.target)
                before = self.state.height
                stalled = self.stall_at is not None and before >= self.stall_at
                if not stalled and before < self.state.target:
                    self.catch_up()
                if self.state.height >= self.state.target and time.monotonic() - last_completed >= 0.9:
                    last_completed = time.monotonic()
                    self.log.info(
                        "cometindex::indexer", 'catchup completed why="already caught up"',
                        span="catchup",
                    )
                backoff = 0.5
                if self.state.height == before:  # nothing to do (or stalled): wait for the next poll
                    self.state.stop.wait(self.poll)
            except psycopg.Error as exc:
                self.log.error(
                    "cometindex::indexer",
                    "database error, retrying in %.1fs: %s" % (backoff, first_line(exc)),
                )
                self.close()
                self.state.stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def limit(self, target):
        """The highest height this pass may commit, honouring STALL/CRASH_AT_HEIGHT."""
        if self.stall_at is not None:
            target = min(target, self.stall_at)
        if self.crash_at is not None:
            target = min(target, self.crash_at - 1)
        return target

    def catch_up(self):
        """Index batch after batch until the (moving) target, re-reading the head between batches."""
        started, done = time.monotonic(), 0
        while not self.state.stop.is_set():
            limit = self.limit(self.state.target)
            if self.state.height >= limit:
                break
            end = min(self.state.height + BATCH_BLOCKS, limit)
            done = self.index_batch(self.state.height + 1, end, started, done)
            if done is None:
                return
            self.state.target = self.source_target()
            self.catchup_status(self.state.target)
        if (
            self.crash_at is not None
            and self.state.height == self.crash_at - 1
            and self.state.target >= self.crash_at
            and not self.state.stop.is_set()
        ):
            self.crash()

    def crash(self):
        """CRASH_AT_HEIGHT: fail like the reference does on a bad block, exit status 1."""
        self.log.write([
            self.log.line("INFO", "cometindex::indexer",
                          "Processing block height %d with 0 transactions" % self.crash_at),
            self.log.line("ERROR", "cometindex::indexer",
                          "failed to index block height %d: error processing event: "
                          "unexpected state (CRASH_AT_HEIGHT)" % self.crash_at),
            self.log.line("ERROR", "explorer", "Error: indexer stopped with an error"),
        ])
        self.close()
        os._exit(1)

    def index_batch(self, first, last, started, done):
        """Index heights first..last in ONE destination transaction that also moves the watermark.

        Returns the running block count for pacing, or None when asked to stop mid-batch (the
        transaction is rolled back, so the watermark never runs ahead of the data).
        """
        rows = self.src.execute(
            "SELECT b.height, b.created_at, b.chain_id, COUNT(t.rowid) FROM blocks b"
            " LEFT JOIN tx_results t ON t.block_id = b.rowid"
            " WHERE b.height BETWEEN %s AND %s GROUP BY b.rowid ORDER BY b.height",
            (first, last),
        ).fetchall()
        chunk = max(1, min(200, self.speed // 20))  # ~20 paced writes a second
        stopped = False
        with self.dst.transaction() as tx:
            cur = self.dst.cursor()
            for offset in range(0, len(rows), chunk):
                if self.state.stop.is_set():
                    stopped = True
                    raise psycopg.Rollback(tx)
                part = rows[offset:offset + chunk]
                cur.executemany(
                    "INSERT INTO explorer_block_details"
                    " (height, root, timestamp, num_transactions, chain_id)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (height) DO UPDATE SET"
                    " root = EXCLUDED.root, timestamp = EXCLUDED.timestamp,"
                    " num_transactions = EXCLUDED.num_transactions",
                    [
                        (h, block_root(h, self.wrong_every), created, n, chain)
                        for h, created, chain, n in part
                    ],
                )
                self.log.write([
                    self.log.line("INFO", "cometindex::indexer",
                                  "Processing block height %d with %d transactions" % (h, n))
                    for h, _, _, n in part
                ])
                done += len(part)
                ahead = done / self.speed - (time.monotonic() - started)
                if ahead > 0:
                    self.state.stop.wait(ahead)
            cur.execute(
                "UPDATE index_watermarks SET height = %s, version = %s WHERE index_name = %s",
                (last, INDEX_VERSION, INDEX_NAME),
            )
        if stopped:
            return None
        self.state.height = last
        return done


# ── entry point ───────────────────────────────────────────────────────────────────────────────
def parse_args(argv):
    parser = argparse.ArgumentParser(prog="explorer", add_help=True)
    parser.add_argument("-s", "--src-database-url", dest="src",
                        default=os.environ.get("SOURCE_DB_URL", ""))
    parser.add_argument("-d", "--dst-database-url", dest="dst",
                        default=os.environ.get("DEST_DB_URL", ""))
    parser.add_argument("--genesis-json", dest="genesis",
                        default=os.environ.get("GENESIS_JSON", DEFAULT_GENESIS))
    parser.add_argument("--polling-interval-ms", type=int, default=1000)
    return parser.parse_args(argv)


def main(argv):
    log = Log(colour=os.environ.get("NO_COLOR", "") == "")
    args = parse_args(argv)
    version = os.environ.get("VERSION", "dev")
    missing = [name for name, value in (("source (-s / SOURCE_DB_URL)", args.src),
                                        ("destination (-d / DEST_DB_URL)", args.dst)) if not value]
    if missing:
        log.error("explorer", "missing database URL: " + ", ".join(missing)
                  + "; pass it as a flag or set the environment variable")
        return 1
    try:
        with open(args.genesis, encoding="utf-8") as handle:
            genesis = json.load(handle)
    except (OSError, ValueError) as exc:
        log.error("explorer", "cannot read genesis file %s: %s" % (args.genesis, first_line(exc)))
        return 1

    state = State(version)
    port = int(os.environ.get("PORT", "8080"))
    log.info("explorer", "Starting explorer version=%s" % version)
    log.info(
        "explorer",
        'Configuration: AppConfig { src_database_url: "%s", dst_database_url: "%s", '
        'genesis_json: "%s", chain_id: "%s", polling_interval_ms: %d, port: %d }'
        % (redact_url(args.src), redact_url(args.dst), args.genesis,
           genesis.get("chain_id", ""), args.polling_interval_ms, port),
    )

    def on_signal(signum, frame):
        state.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Serve first so /health is 200 from startup, even while the database is still unreachable.
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()

    indexer = Indexer(args, state, log)
    log.info("cometindex::indexer", "Running database migrations")
    backoff = 0.5
    while not state.stop.is_set():
        try:
            indexer.migrate()
            break
        except psycopg.Error as exc:
            log.error("cometindex::indexer",
                      "database migrations failed, retrying in %.1fs: %s" % (backoff, first_line(exc)))
            state.stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
    if not state.stop.is_set():
        log.info("explorer", "API server listening on 0.0.0.0:%d" % port)
        indexer.run()
    log.info("explorer", "received shutdown signal, exiting")
    server.shutdown()
    indexer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
