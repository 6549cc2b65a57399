"""The stand-in indexer image, built offline and run in real Docker against a real PostgreSQL.

The stand-in must behave like the reference service where the console depends on it: watermark
batches, resume after restart, tracing logs with ANSI colours and a leaked password, /health 200
while still re-indexing, GraphQL POSTs on keep-alive connections, clean SIGTERM, crash and stall.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import psycopg
import pytest

from console.sandbox import chain, images
from console.sandbox.postgres_proc import PostgresServer
from tests import ports

pytestmark = pytest.mark.integration

PG_PORT = ports.STANDIN[0]
PG_DIR = Path("/var/tmp/bgtest-a1/standin-pg")  # traversable by the postgres user, unlike /root
# A test-only repository, so removing it afterwards cannot break anyone using bluegreen/standin.
REPOSITORY = "bgtest-si/standin"
HISTORY = 3000
WATERMARK = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


# ── fixtures ──────────────────────────────────────────────────────────────────────────────────
@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    try:
        docker_client = docker.from_env()
        docker_client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker Engine: {exc}")
    yield docker_client
    docker_client.close()


@pytest.fixture(scope="module")
def built(client: docker.DockerClient) -> Iterator[dict[str, str]]:
    refs = {
        v: images.build_standin(v, v, repository=REPOSITORY, client=client) for v in ("v1", "v2")
    }
    yield refs
    for ref in refs.values():
        # APIError: still used by a container that failed to clean up. Never remove the base image.
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(ref, noprune=False)


@pytest.fixture(scope="module")
def gateway(client: docker.DockerClient) -> str:
    """The host as containers on the default bridge reach it (where Postgres listens too)."""
    return images.docker_gateway_ip("bridge", client=client)


@pytest.fixture(scope="module")
def pg(gateway: str) -> Iterator[PostgresServer]:
    server = PostgresServer(
        PG_DIR, PG_PORT, password=secrets.token_urlsafe(12), listen=("127.0.0.1", gateway)
    )
    server.destroy()  # a crashed earlier run may have left a cluster with another password
    server.start()
    server.wait_ready()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def source(pg: PostgresServer, gateway: str) -> Iterator[dict[str, str]]:
    """3,000 blocks of history, then ~1 block/s appended by the chain simulator."""
    pg.drop_database("si_src")
    host_url = pg.create_database("si_src")
    chain.seed_history(host_url, HISTORY)
    stop = threading.Event()
    runner = threading.Thread(target=chain.run, args=(host_url, 1.0, stop), daemon=True)
    runner.start()
    yield {"host": host_url, "container": pg.url("si_src", host=gateway)}
    stop.set()
    runner.join(timeout=5)
    pg.drop_database("si_src")


@pytest.fixture
def dest(
    pg: PostgresServer, gateway: str, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    name = "si_dst_" + request.node.name.removeprefix("test_")[:30]
    pg.drop_database(name)
    host_url = pg.create_database(name)
    yield {"host": host_url, "container": pg.url(name, host=gateway)}
    pg.drop_database(name)


Runner = Callable[..., Any]


@pytest.fixture
def run_standin(client: docker.DockerClient, built: dict[str, str]) -> Iterator[Runner]:
    started: list[Any] = []

    def run(
        name: str,
        port: int | None,
        *,
        version: str = "v1",
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Any:
        full = f"bgtest-si-{name}"
        # Our host ports sit in the ephemeral range: a client socket may hold one for a moment.
        for attempt in range(10):
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(full).remove(force=True)
            try:
                container = client.containers.run(
                    built[version],
                    args or [],
                    name=full,
                    detach=True,
                    environment=env or {},
                    ports={"8080/tcp": ("127.0.0.1", port)} if port else {},
                )
                break
            except docker.errors.APIError as exc:
                with contextlib.suppress(docker.errors.NotFound):
                    client.containers.get(full).remove(force=True)
                if "address already in use" not in str(exc) or attempt == 9:
                    raise
                time.sleep(0.3)
        started.append(container)
        return container

    yield run
    for container in started:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


# ── helpers ───────────────────────────────────────────────────────────────────────────────────
def db_args(source: dict[str, str], dest: dict[str, str]) -> list[str]:
    return ["-s", source["container"], "-d", dest["container"]]


def watermark(dest: dict[str, str]) -> int | None:
    try:
        with psycopg.connect(dest["host"], connect_timeout=2) as conn:
            row = conn.execute(WATERMARK).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return int(row[0]) if row else None


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def logs(container: Any) -> str:
    return str(container.logs().decode("utf-8", "replace"))


def request(port: int, method: str, path: str, body: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def health(port: int) -> bool:
    try:
        return request(port, "GET", "/health") == (200, "OK")
    except OSError:
        return False


def _seconds(docker_time: str) -> float:
    """Docker's RFC 3339 nanosecond timestamps as epoch seconds (fromisoformat takes µs only)."""
    stamp, _, fraction = docker_time.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
    return whole + float("0." + (fraction or "0"))


def exit_code(container: Any, timeout: float) -> int:
    return int(container.wait(timeout=timeout)["StatusCode"])


# ── tests ─────────────────────────────────────────────────────────────────────────────────────
def test_catches_up_follows_the_head_and_logs_like_the_reference(
    run_standin: Runner,
    source: dict[str, str],
    dest: dict[str, str],
    pg: PostgresServer,
    client: docker.DockerClient,
    built: dict[str, str],
) -> None:
    port = ports.STANDIN[1]
    started = time.monotonic()
    container = run_standin(
        "catchup", port, args=db_args(source, dest), env={"INDEX_SPEED": "2000"}
    )
    wait_for(lambda: health(port), 5, "/health to answer 200")

    def caught_up() -> bool:
        height = watermark(dest)
        return height is not None and height >= chain.head(source["host"]) - 1

    wait_for(caught_up, 8, "the watermark to reach the head")
    assert time.monotonic() - started < 8
    # It keeps following the chain (~1 block/s) after catching up.
    reached = watermark(dest)
    assert reached is not None
    wait_for(lambda: (watermark(dest) or 0) > reached, 4, "the watermark to follow the head")

    # Each batch is one transaction with its watermark: the data never lags the watermark.
    with psycopg.connect(dest["host"]) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        mark = conn.execute(WATERMARK).fetchone()
        count = conn.execute("SELECT COUNT(*), MAX(height) FROM explorer_block_details").fetchone()
        details = conn.execute(
            "SELECT height, num_transactions FROM explorer_block_details"
            " WHERE height IN (5, 10, 11) ORDER BY height"
        ).fetchall()
    assert mark is not None and count == (mark[0], mark[0])
    assert details == [(h, chain.tx_count(h)) for h in (5, 10, 11)]

    text = wait_for(
        lambda: (t := logs(container)) and "catchup completed" in t and t,
        3,
        "`catchup completed` in the logs",
    )
    assert "\x1b[32m INFO\x1b[0m" in text and "\x1b[2m" in text, "tracing logs carry ANSI colours"
    config_line = next(line for line in text.splitlines() if "Configuration:" in line)
    assert pg.password not in config_line, "the Configuration line redacts the URLs"
    for marker in (
        "Running database migrations",
        "API server listening on 0.0.0.0:8080",
        "Processing block height 1 with 0 transactions",
        "Processing block height 5 with 3 transactions",
        'index_states={"explorer": ',
        'why="already caught up"',
    ):
        assert marker in text, marker
    # Faithful to the reference: a library logs the database URL with its password in clear.
    leak = [line for line in text.splitlines() if "sqlx::postgres" in line and pg.password in line]
    assert leak and "connecting to postgresql://" in leak[0]
    order = [
        text.index(m)
        for m in (
            "Configuration:",
            "Running database migrations",
            "API server listening",
            "connecting to",
        )
    ]
    assert order == sorted(order)

    # GraphQL and the playground, several requests on ONE keep-alive connection.
    http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        http_conn.request("POST", "/graphql", body=json.dumps({"query": "{ __typename }"}))
        response = http_conn.getresponse()
        assert (response.status, json.loads(response.read())) == (
            200,
            {"data": {"__typename": "QueryRoot"}},
        )
        assert not response.will_close
        sock = http_conn.sock
        query = json.dumps({"query": "query Tip { tip: latestBlock { height } version }"})
        http_conn.request("POST", "/graphql", body=query)
        response = http_conn.getresponse()
        data = json.loads(response.read())["data"]
        assert data["version"] == "v1" and data["tip"]["height"] >= reached
        http_conn.request("POST", "/graphql", body="{not json")
        response = http_conn.getresponse()
        assert response.status == 400 and json.loads(response.read())["errors"]
        http_conn.request("GET", "/graphql/playground")
        response = http_conn.getresponse()
        assert response.status == 200 and b"<html" in response.read()
        assert http_conn.sock is sock, "the server closed a keep-alive connection"
    finally:
        http_conn.close()

    labels = client.images.get(built["v1"]).labels
    assert labels["org.opencontainers.image.version"] == "v1"

    container.stop(timeout=10)
    assert exit_code(container, 5) == 0
    assert "Traceback" not in logs(container)


def test_stall_keeps_serving_and_restart_resumes_from_the_watermark(
    run_standin: Runner,
    source: dict[str, str],
    dest: dict[str, str],
    pg: PostgresServer,
) -> None:
    port = ports.STANDIN[2]
    stalled = run_standin(
        "stall",
        port,
        args=db_args(source, dest),
        env={"INDEX_SPEED": "2000", "STALL_AT_HEIGHT": "1200", "NO_COLOR": "1"},
    )
    wait_for(lambda: watermark(dest) == 1200, 6, "the watermark to reach STALL_AT_HEIGHT")
    time.sleep(1.5)
    assert watermark(dest) == 1200, "a stalled indexer must not progress"
    # Health is not readiness: 200 while far behind the head.
    assert health(port)
    status, body = request(
        port, "POST", "/graphql", json.dumps({"query": "{ latestBlock { height } }"})
    )
    assert (status, json.loads(body)) == (200, {"data": {"latestBlock": {"height": 1200}}})
    text = logs(stalled)
    assert "\x1b[" not in text, "NO_COLOR=1 disables ANSI colours"
    assert "catchup completed" not in text
    assert " INFO catchup: cometindex::indexer: catchup status src_height=Height(" in text
    stalled.stop(timeout=10)
    assert exit_code(stalled, 5) == 0

    # A new release on the same destination resumes from the watermark instead of starting over.
    resumed = run_standin(
        "resume",
        port,
        version="v2",
        args=db_args(source, dest),
        env={"INDEX_SPEED": "2000", "NO_COLOR": "1"},
    )
    wait_for(
        lambda: (watermark(dest) or 0) >= chain.head(source["host"]) - 1,
        6,
        "the restarted indexer to catch up",
    )
    text = wait_for(
        lambda: (t := logs(resumed)) and "catchup completed" in t and t,
        3,
        "`catchup completed` after the restart",
    )
    assert 'index_states={"explorer": 1200}' in text
    assert "Processing block height 1201 with" in text
    assert "Processing block height 1200 with" not in text
    assert "Starting explorer version=v2" in text


def test_crash_at_height_exits_non_zero_with_an_error_line(
    run_standin: Runner,
    source: dict[str, str],
    dest: dict[str, str],
) -> None:
    crashed = run_standin(
        "crash",
        None,
        args=db_args(source, dest),
        env={"INDEX_SPEED": "1000", "CRASH_AT_HEIGHT": "1500", "NO_COLOR": "1"},
    )
    assert exit_code(crashed, 10) == 1
    # Paced by INDEX_SPEED: 1,499 blocks at 1000 blocks/s take about 1.5 s, not a burst.
    crashed.reload()
    state = crashed.attrs["State"]
    ran = _seconds(state["FinishedAt"]) - _seconds(state["StartedAt"])
    assert 1.4 <= ran <= 5.0, f"ran {ran:.2f}s"
    errors = [line for line in logs(crashed).splitlines() if " ERROR " in line]
    assert any("1500" in line for line in errors), errors
    assert watermark(dest) == 1499, "everything before the bad block was committed"


def test_missing_database_urls_exit_1_with_an_error_line(run_standin: Runner) -> None:
    container = run_standin("nourl", None, env={"NO_COLOR": "1"})
    assert exit_code(container, 10) == 1
    text = logs(container)
    assert " ERROR " in text and "SOURCE_DB_URL" in text and "DEST_DB_URL" in text
    assert "Traceback" not in text

    # One URL from the environment is not enough either.
    container = run_standin("nodest", None, env={"SOURCE_DB_URL": "postgresql://x@h/db"})
    assert exit_code(container, 10) == 1
    text = logs(container)
    assert "DEST_DB_URL" in text and "SOURCE_DB_URL" not in text.split("missing", 1)[1]


def test_survives_a_postgres_restart(
    run_standin: Runner,
    source: dict[str, str],
    dest: dict[str, str],
    pg: PostgresServer,
) -> None:
    port = ports.STANDIN[3]
    container = run_standin(
        "pgrestart", port, args=db_args(source, dest), env={"INDEX_SPEED": "2000", "NO_COLOR": "1"}
    )
    wait_for(lambda: (watermark(dest) or 0) >= chain.head(source["host"]) - 1, 8, "catch-up")
    before = watermark(dest)
    assert before is not None
    pg.stop()
    try:
        wait_for(lambda: "database error, retrying" in logs(container), 6, "an ERROR line")
        assert health(port), "/health keeps answering while the database is down"
    finally:
        pg.start()
        pg.wait_ready()
    wait_for(lambda: (watermark(dest) or 0) > before + 1, 15, "indexing to resume")
    container.reload()
    assert container.status == "running"
    assert "Traceback" not in logs(container)


def test_sigterm_mid_batch_rolls_the_batch_back_and_exits_zero(
    run_standin: Runner,
    source: dict[str, str],
    dest: dict[str, str],
) -> None:
    container = run_standin(
        "midbatch", None, args=db_args(source, dest), env={"INDEX_SPEED": "600", "NO_COLOR": "1"}
    )
    wait_for(lambda: "Processing block height 1300 with" in logs(container), 6, "the second batch")
    started = time.monotonic()
    container.stop(timeout=10)
    assert exit_code(container, 5) == 0
    assert time.monotonic() - started < 3, "SIGTERM must not wait for the batch to finish"
    assert "received shutdown signal" in logs(container)
    # The half-done second batch left nothing behind: watermark and data agree at 1000.
    assert watermark(dest) == 1000
    with psycopg.connect(dest["host"]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM explorer_block_details").fetchone() == (1000,)
