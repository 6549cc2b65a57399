"""Height sources against a real PostgreSQL server and a real local HTTP server."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from console.core.config import CandidateConfig, Config, HeadConfig, SlotConfig, SourceConfig
from console.drivers.heights import (
    HttpHeight,
    SourceUnavailable,
    SqlHeight,
    make_candidate_source,
    make_head_source,
)
from console.sandbox.postgres_proc import PostgresError, PostgresServer

pytestmark = pytest.mark.integration

PG_PORTS = (56050, 56057, 56058)
HTTP_PORT = 56051
REFUSED_PORT = 56059  # nothing listens here
ROOT = Path("/var/tmp/bgtest-c")
PASSWORD = "s3cr3t-Hunter2-pw"
HEAD_QUERY = "SELECT MAX(height) - 1 FROM blocks"
WATERMARK_QUERY = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


def bindable(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


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


# ── HTTP ─────────────────────────────────────────────────────────────────────────────────────────


class _StatusHandler(BaseHTTPRequestHandler):
    body: bytes = b""
    status = 200
    port = 0

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(type(self).body)))
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: object) -> None:
        pass


def bind_http(handler: type[BaseHTTPRequestHandler], preferred: int) -> ThreadingHTTPServer:
    """Our assigned port, or any free one: the assigned ports sit in the kernel's ephemeral range,
    so another process's outgoing connection (or its TIME_WAIT) can hold one for a minute."""
    try:
        return ThreadingHTTPServer(("127.0.0.1", preferred), handler)
    except OSError:
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)


@pytest.fixture()
def status_server() -> Iterator[type[_StatusHandler]]:
    handler: type[_StatusHandler] = type("Handler", (_StatusHandler,), {})
    httpd = bind_http(handler, HTTP_PORT)
    handler.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_http_height_reads_tendermint_string_field(status_server: type[_StatusHandler]) -> None:
    status_server.body = json.dumps(
        {"result": {"sync_info": {"latest_block_height": "123"}}, "list": [{"h": 7}]}
    ).encode()
    source = HttpHeight(
        f"http://127.0.0.1:{status_server.port}/status",
        "result.sync_info.latest_block_height",
        label="chain head endpoint",
    )
    indexed = HttpHeight(f"http://127.0.0.1:{status_server.port}/status", "list.0.h")
    try:
        assert source.read() == 123
        assert indexed.read() == 7
        status_server.body = b'{"result": {"sync_info": {}}}'
        with pytest.raises(
            SourceUnavailable, match=r"no field 'result\.sync_info\.latest_block_height'"
        ):
            source.read()
        status_server.status = 503
        with pytest.raises(SourceUnavailable, match="HTTP 503"):
            source.read()
    finally:
        source.close()
        indexed.close()


def test_http_height_refused_is_a_sentence() -> None:
    source = HttpHeight(
        f"http://user:{PASSWORD}@127.0.0.1:{REFUSED_PORT}/status", "h", label="chain head endpoint"
    )
    try:
        with pytest.raises(SourceUnavailable) as caught:
            source.read()
        assert str(caught.value) == (
            "The chain head endpoint is unreachable (connection refused); retrying."
        )
    finally:
        source.close()


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
        head=HeadConfig(),
        candidate=CandidateConfig(),
        slots={"blue": SlotConfig(container="b", host_port=1, db_url=db)},
    )
    head = make_head_source(config)
    blue = make_candidate_source(config, "blue")
    try:
        assert isinstance(head, SqlHeight) and head.label == "source database"
        assert head.read() == 999
        assert blue.label == "blue database" and blue.read() == 990
        assert PASSWORD not in repr(head) and PASSWORD not in repr(blue)
    finally:
        head.close()
        blue.close()
    http_config = Config(head=HeadConfig(kind="http", url="http://127.0.0.1:1/s", field="a.b"))
    http_head = make_head_source(http_config)
    assert isinstance(http_head, HttpHeight)
    http_head.close()
