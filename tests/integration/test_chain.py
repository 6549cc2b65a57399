"""The chain simulator against a real PostgreSQL: schema, bulk seeding speed, growth, CLI."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from console.sandbox import chain
from console.sandbox.postgres_proc import PostgresServer
from tests import ports

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PG_PORT = ports.CHAIN_PG
PG_DIR = Path("/var/tmp/bgtest-a1/chain-pg")  # traversable by the postgres user, unlike /root


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer(PG_DIR, PG_PORT, password=secrets.token_urlsafe(12))
    server.destroy()  # a crashed earlier run may have left a cluster with another password
    server.start()
    server.wait_ready()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def db_url(pg: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "chain_" + request.node.name.replace("test_", "")[:40]
    pg.drop_database(name)
    url = pg.create_database(name)
    try:
        yield url
    finally:
        pg.drop_database(name)


def test_seed_history_is_fast_and_complete(db_url: str) -> None:
    # How fast it seeds is a figure for bench/, not a bound here (a loaded CI machine took 3.5 s).
    assert chain.seed_history(db_url, 20_000) == 20_000

    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT COUNT(*), MIN(height), MAX(height) FROM blocks").fetchone()
        assert row == (20_000, 1, 20_000)
        expected_txs = sum(chain.tx_count(h) for h in range(1, 20_001))
        assert expected_txs > 1000
        txs = conn.execute("SELECT COUNT(*) FROM tx_results").fetchone()
        assert txs == (expected_txs,)
        # Transactions hang off the right block, with one event and attribute each.
        per_block = conn.execute(
            "SELECT b.height, COUNT(t.rowid) FROM blocks b"
            " JOIN tx_results t ON t.block_id = b.rowid WHERE b.height IN (5, 10, 15)"
            " GROUP BY b.height ORDER BY b.height"
        ).fetchall()
        assert per_block == [(h, chain.tx_count(h)) for h in (5, 10, 15)]
        events = conn.execute(
            "SELECT COUNT(*) FROM events e JOIN attributes a ON a.event_id = e.rowid"
            " WHERE e.type = 'tx' AND a.composite_key = 'tx.hash'"
        ).fetchone()
        assert events == (expected_txs,)
    assert chain.head(db_url) == 19_999

    # Seeding again extends the history instead of duplicating it, and the sequences follow.
    assert chain.seed_history(db_url, 20_010) == 20_010
    assert chain.head(db_url) == 20_009
    with psycopg.connect(db_url) as conn:
        assert chain.append_block(conn) == 20_011


def test_head_of_empty_chain_is_zero(db_url: str) -> None:
    chain.create_schema(db_url)
    chain.create_schema(db_url)  # idempotent
    assert chain.head(db_url) == 0


def test_run_appends_a_block_per_interval_until_stopped(db_url: str) -> None:
    chain.seed_history(db_url, 100)
    stop = threading.Event()
    runner = threading.Thread(target=chain.run, args=(db_url, 0.1, stop), daemon=True)
    runner.start()
    time.sleep(1.05)
    stop.set()
    runner.join(timeout=3)
    assert not runner.is_alive(), "run() did not return after stop was set"
    grown = chain.head(db_url) - 99
    assert 8 <= grown <= 12, f"expected ~10 blocks in 1 s at 0.1 s interval, got {grown}"
    with psycopg.connect(db_url) as conn:
        heights = [r[0] for r in conn.execute("SELECT height FROM blocks ORDER BY height")]
    assert heights == list(range(1, len(heights) + 1)), "heights must be contiguous"


def _cli(env_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "BGTEST_CHAIN_URL": env_url}
    return subprocess.Popen(
        [sys.executable, "-m", "console.sandbox.chain", "--db-url-env", "BGTEST_CHAIN_URL", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_seeds_runs_and_exits_zero_on_sigterm(db_url: str, pg: PostgresServer) -> None:
    seeded = _cli(db_url, "--history", "300", "--seed-only")
    assert seeded.wait(timeout=20) == 0, seeded.communicate()
    assert chain.head(db_url) == 299

    runner = _cli(db_url, "--interval", "0.1")
    try:
        # The password is in the environment only: `ps` must not show it.
        cmdline = Path(f"/proc/{runner.pid}/cmdline").read_bytes().decode()
        assert pg.password not in cmdline
        deadline = time.monotonic() + 10
        while chain.head(db_url) < 303 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert chain.head(db_url) >= 303, "the CLI did not append blocks"
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=5) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    _, stderr = runner.communicate()
    assert "Traceback" not in stderr


def test_cli_without_url_says_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BGTEST_UNSET_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "console.sandbox.chain", "--db-url-env", "BGTEST_UNSET_URL"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 1
    assert "set BGTEST_UNSET_URL" in result.stderr
    assert "Traceback" not in result.stderr
