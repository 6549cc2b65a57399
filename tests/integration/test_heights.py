"""SQL progress sources against a real PostgreSQL server; the sources built from config.

The HTTP, JSON-RPC, Prometheus and log kinds have their own tests (tests/unit/test_progress_*.py,
tests/integration/test_progress_sources.py)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from console.core.config.schema import Config, SlotConfig, SourceConfig
from console.core.config.sources import HttpSource, SqlSource
from console.core.contracts.progress import SourceUnavailable
from console.drivers.progress import make_candidate_source, make_head_source
from console.drivers.progress.base import Place
from console.drivers.progress.http import HttpProgress
from console.drivers.progress.sql import SqlProgress
from console.sandbox.postgres_proc import PostgresError, PostgresServer
from tests import ports
from tests.integration.proxy_helpers import bindable

pytestmark = pytest.mark.integration

PG_PORTS = ports.HEIGHTS_PG
HTTP_PORT = ports.HEIGHTS_HTTP
REFUSED_PORT = ports.HEIGHTS_REFUSED
ROOT = Path("/var/tmp/bgtest-c")
PASSWORD = "s3cr3t-Hunter2-pw"
HEAD_QUERY = "SELECT MAX(height) - 1 FROM blocks"
WATERMARK_QUERY = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


class SqlHeight(SqlProgress):
    """The SQL source with read() as the height alone, as these tests were first written."""

    def __init__(
        self, url: str, query: str, statement_timeout_ms: int = 2000, *, label: str = "database"
    ) -> None:
        super().__init__(Place("candidate", label, None, statement_timeout_ms), url, query)

    def read(self) -> int | None:  # type: ignore[override]
        return self.read_height()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    ROOT.mkdir(mode=0o755, exist_ok=True)
    ROOT.chmod(0o755)  # the postgres user must traverse it
    # Our ports lie in the kernel's ephemeral range: another process's outgoing connection (or
    # its TIME_WAIT) can hold 56050 for a minute, so fall back to a free port rather than fail.
    candidates = [p for p in PG_PORTS if bindable(p)] + [free_port()]
    pg = PostgresServer(ROOT / "pg", candidates[0], PASSWORD)
    try:
        for port in candidates:
            pg = PostgresServer(ROOT / "pg", port, PASSWORD)
            pg.destroy()  # a run killed mid-way must not leak its cluster into this one
            try:
                pg.start()
                break
            except PostgresError:
                if port == candidates[-1]:
                    raise
        pg.wait_ready()
        yield pg
    finally:
        pg.destroy()
        shutil.rmtree(ROOT, ignore_errors=True)


@pytest.fixture()
def db(server: PostgresServer) -> Iterator[str]:
    server.drop_database("heights")
    url = server.create_database("heights")
    yield url
    server.drop_database("heights")


def execute(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_reads_max_height_minus_one_and_follows_growth(db: str) -> None:
    execute(
        db,
        "CREATE TABLE blocks (rowid BIGSERIAL PRIMARY KEY, height BIGINT NOT NULL)",
        "INSERT INTO blocks (height) SELECT g FROM generate_series(1, 100) g",
    )
    source = SqlHeight(db, HEAD_QUERY, label="source database")
    try:
        assert source.read() == 99
        execute(db, "INSERT INTO blocks (height) VALUES (101), (102)")
        assert source.read() == 101
    finally:
        source.close()


def test_empty_table_and_missing_row_read_none(db: str) -> None:
    execute(
        db,
        "CREATE TABLE blocks (height BIGINT)",
        "CREATE TABLE index_watermarks (index_name TEXT PRIMARY KEY, height BIGINT, version INT)",
    )
    head = SqlHeight(db, HEAD_QUERY, label="source database")
    candidate = SqlHeight(db, WATERMARK_QUERY, label="blue database")
    try:
        assert head.read() is None  # MAX over no rows is NULL
        assert candidate.read() is None  # no row at all
        execute(db, "INSERT INTO index_watermarks VALUES ('explorer', 4242, 1)")
        assert candidate.read() == 4242
    finally:
        head.close()
        candidate.close()


def test_missing_table_means_not_started_and_connection_stays_usable(db: str) -> None:
    source = SqlHeight(db, WATERMARK_QUERY, label="green database")
    try:
        assert source.read() is None
        execute(
            db,
            "CREATE TABLE index_watermarks (index_name TEXT PRIMARY KEY, height BIGINT)",
            "INSERT INTO index_watermarks VALUES ('explorer', 7)",
        )
        assert source.read() == 7
    finally:
        source.close()


def test_connection_is_persistent_read_only_and_named(db: str) -> None:
    execute(db, "CREATE TABLE blocks (height BIGINT)", "INSERT INTO blocks VALUES (10)")
    source = SqlHeight(db, HEAD_QUERY, statement_timeout_ms=1234, label="source database")
    try:
        source.read()
        source.read()
        with psycopg.connect(db, autocommit=True) as conn:
            count = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bluegreen'"
            ).fetchone()
        assert count == (1,)
        settings = SqlHeight(
            db,
            "SELECT (current_setting('statement_timeout') = '1234ms')::int"
            " + 2 * (current_setting('default_transaction_read_only') = 'on')::int",
            statement_timeout_ms=1234,
        )
        try:
            assert settings.read() == 3
        finally:
            settings.close()
        writer = SqlHeight(
            db, "INSERT INTO blocks VALUES (11) RETURNING height", label="x database"
        )
        try:
            with pytest.raises(SourceUnavailable):
                writer.read()
        finally:
            writer.close()
    finally:
        source.close()


def test_server_down_is_a_redacted_sentence_then_reconnects(
    server: PostgresServer, db: str
) -> None:
    execute(db, "CREATE TABLE blocks (height BIGINT)", "INSERT INTO blocks VALUES (50)")
    source = SqlHeight(db, HEAD_QUERY, label="blue database")
    try:
        assert source.read() == 49
        server.stop()
        try:
            messages = []
            for _ in range(2):  # first the broken connection, then the refused reconnect
                started = time.monotonic()
                with pytest.raises(SourceUnavailable) as caught:
                    source.read()
                assert time.monotonic() - started < 5
                messages.append(str(caught.value))
            for message in messages:
                assert PASSWORD not in message
                assert "bluegreen:" not in message  # no URL userinfo either
                assert message.startswith("The blue database is unreachable (")
                assert message.endswith("); retrying.")
            assert "connection refused" in messages[1]
        finally:
            server.start()
            server.wait_ready()
        assert source.read() == 49
    finally:
        source.close()


def test_statement_timeout_is_honoured(db: str) -> None:
    source = SqlHeight(
        db, "SELECT 1 FROM pg_sleep(5)", statement_timeout_ms=200, label="blue database"
    )
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as caught:
            source.read()
        assert time.monotonic() - started < 2
        assert "longer than 200 ms" in str(caught.value)
    finally:
        source.close()


def test_wrong_password_does_not_leak(server: PostgresServer, db: str) -> None:
    wrong = db.replace(PASSWORD, "Wr0ng-Passw0rd-xyz")
    source = SqlHeight(wrong, HEAD_QUERY, label="source database")
    try:
        with pytest.raises(SourceUnavailable) as caught:
            source.read()
        message = str(caught.value)
        assert "Wr0ng-Passw0rd-xyz" not in message and PASSWORD not in message
        assert message.startswith("The source database")
    finally:
        source.close()


def test_head_query_uses_the_index(db: str) -> None:
    execute(
        db,
        "CREATE TABLE blocks (rowid BIGSERIAL PRIMARY KEY, height BIGINT NOT NULL, chain_id TEXT)",
        "INSERT INTO blocks (height, chain_id) SELECT g, 'c' FROM generate_series(1, 50000) g",
        "CREATE INDEX blocks_height ON blocks (height)",
        "ANALYZE blocks",
    )
    plan = SqlHeight(db, HEAD_QUERY).plan()
    assert "blocks_height" in plan and "Index Only Scan Backward" in plan, plan
    assert "Seq Scan" not in plan


def test_several_rows_need_an_aggregate_and_min_is_cometindex_catch_up(db: str) -> None:
    execute(
        db,
        "CREATE TABLE index_watermarks (index_name TEXT PRIMARY KEY, height BIGINT)",
        "INSERT INTO index_watermarks VALUES ('blocks', 1000), ('dex', 990), ('governance', 995)",
    )
    rows = "SELECT height FROM index_watermarks"
    several = SqlProgress(Place("candidate", "blue database"), db, rows)
    lowest = SqlProgress(Place("candidate", "blue database"), db, rows, aggregate="min")
    try:
        with pytest.raises(SourceUnavailable) as caught:
            several.read()
        assert str(caught.value) == (
            'The blue database query gave 3 values; set candidate.aggregate = "min", "max" or '
            '"sum" to say how they make one height.'
        )
        assert lowest.read().height == 990
        execute(db, "UPDATE index_watermarks SET height = NULL WHERE index_name = 'dex'")
        assert lowest.read().height is None  # an index that has not started holds it back
    finally:
        several.close()
        lowest.close()


def test_factories_build_sources_from_config(db: str) -> None:
    execute(
        db,
        "CREATE TABLE blocks (height BIGINT)",
        "INSERT INTO blocks VALUES (1000)",
        "CREATE TABLE index_watermarks (index_name TEXT PRIMARY KEY, height BIGINT)",
        "INSERT INTO index_watermarks VALUES ('explorer', 990)",
    )
    config = Config(
        source=SourceConfig(db_url="postgresql://u:p@container-host/x", host_db_url=db),
        head=SqlSource(),
        candidate=SqlSource(),
        slots={"blue": SlotConfig(container="b", host_port=1, db_url=db)},
    )
    head = make_head_source(config)
    blue = make_candidate_source(config, "blue")
    assert head is not None and blue is not None
    try:
        assert isinstance(head, SqlProgress) and head.label == "source database"
        assert head.read().height == 999
        assert blue.label == "blue database" and blue.read().height == 990
        assert PASSWORD not in repr(head) and PASSWORD not in repr(blue)
    finally:
        head.close()
        blue.close()
    http_head = make_head_source(
        Config(head=HttpSource(url="http://127.0.0.1:1/s", field="a.b"), candidate=SqlSource())
    )
    assert isinstance(http_head, HttpProgress)
    http_head.close()
    assert make_head_source(Config()) is None  # no catch-up: nothing to read
    assert make_candidate_source(Config(slots={"blue": SlotConfig()}), "blue") is None
