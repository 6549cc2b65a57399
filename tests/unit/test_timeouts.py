"""Bounded calls: a part that accepts connections but never answers (what a SIGSTOPped daemon
looks like from outside) costs the caller its bound, and the error names the part."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core import timeouts
from console.core.contracts.progress import SourceUnavailable
from console.core.contracts.runtime import RuntimeNotAnswering
from console.drivers.checks import HttpChecker
from console.drivers.docker.runtime import DockerRuntime
from console.drivers.progress.base import Place
from console.drivers.progress.sql import SqlProgress


@pytest.fixture
def mute_unix(tmp_path: Path) -> Iterator[str]:
    """A unix socket whose backlog accepts connections that nobody ever reads."""
    path = str(tmp_path / "mute.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    yield path
    listener.close()


@pytest.fixture
def mute_tcp() -> Iterator[int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and hold, never answer
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for sock in held:
        sock.close()
    listener.close()


def test_a_mute_docker_engine_costs_one_bound_and_is_named(mute_unix: str) -> None:
    runtime = DockerRuntime(base_url=f"unix://{mute_unix}", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(RuntimeNotAnswering) as error:
        runtime.inspect("anything")
    elapsed = time.monotonic() - started
    assert str(error.value).startswith("The Docker Engine did not answer within 0.5 s;")
    assert "retry" in str(error.value)
    assert elapsed < 0.5 * 2 + 0.5  # building the client and the call: never retried
    assert runtime.ping() is False


def test_the_runtime_defaults_to_the_named_bounds() -> None:
    runtime = DockerRuntime()
    assert runtime.read_timeout == timeouts.DOCKER_READ_SECONDS
    assert runtime.change_timeout == timeouts.DOCKER_CHANGE_SECONDS
    assert runtime.image_timeout == timeouts.DOCKER_IMAGE_SECONDS


def test_a_mute_database_is_named_within_its_connect_bound(mute_tcp: int) -> None:
    url = f"postgresql://u:secretpw@127.0.0.1:{mute_tcp}/db"
    source = SqlProgress(Place("candidate", "blue database", "blue", 500), url, "SELECT 1")
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as error:
        source.read()
    elapsed = time.monotonic() - started
    assert "The blue database did not answer within" in str(error.value)
    assert "secretpw" not in str(error.value)
    assert elapsed < timeouts.SQL_CONNECT_SECONDS + 1.5


def test_the_sql_socket_bound_is_past_the_statement_timeout() -> None:
    assert timeouts.sql_socket_seconds(2000) == 2.0 + timeouts.SQL_SOCKET_MARGIN_SECONDS


def test_a_mute_colour_fails_its_health_check_within_the_bound(mute_tcp: int) -> None:
    checker = HttpChecker(f"http://127.0.0.1:{mute_tcp}")
    started = time.monotonic()
    ok, detail = checker.health("/health")
    elapsed = time.monotonic() - started
    checker.close()
    assert ok is False
    assert detail == f"no answer within {timeouts.HTTP_CHECK_SECONDS:g} s"
    assert elapsed < timeouts.HTTP_CHECK_SECONDS + 1.0
