"""HttpChecker against a real local HTTP server standing in for the explorer's API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from console.drivers.checks import HttpChecker
from tests import ports

pytestmark = pytest.mark.integration

PORT = ports.CHECKS
REFUSED_PORT = ports.CHECKS_REFUSED
QUERY = '{"query": "{ __typename }"}'


@dataclass
class Api:
    """What the stand-in API answers; tests change it between requests."""

    health_status: int = 200
    graphql_status: int = 200
    graphql_body: object = field(default_factory=lambda: {"data": {"__typename": "Query"}})
    delay: float = 0.0
    requests: list[tuple[str, str, str, str]] = field(default_factory=list)
    port: int = 0


def bind_http(handler: type[BaseHTTPRequestHandler], preferred: int) -> ThreadingHTTPServer:
    """Our assigned port, or any free one: the assigned ports sit in the kernel's ephemeral range,
    so another process's outgoing connection (or its TIME_WAIT) can hold one for a minute."""
    try:
        return ThreadingHTTPServer(("127.0.0.1", preferred), handler)
    except OSError:
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)


@pytest.fixture()
def api() -> Iterator[Api]:
    state = Api()
    release = threading.Event()  # ends a slow answer early at teardown

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            try:
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the checker timed out and hung up, as the slow test intends

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, "", ""))
            release.wait(state.delay)
            self.reply(state.health_status, b"OK", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            state.requests.append(("POST", self.path, body, self.headers.get("Content-Type", "")))
            payload = state.graphql_body
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.reply(state.graphql_status, raw, "application/json")

        def log_message(self, *args: object) -> None:
            pass

    httpd = bind_http(Handler, PORT)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture()
def checker(api: Api) -> Iterator[HttpChecker]:
    client = HttpChecker(f"http://127.0.0.1:{api.port}/")
    yield client
    client.close()


def test_health_ok_and_failing(api: Api, checker: HttpChecker) -> None:
    assert checker.health("/health") == (True, "HTTP 200")
    api.health_status = 503
    assert checker.health("/health") == (False, "HTTP 503")
    assert api.requests[0][:2] == ("GET", "/health")


def test_smoke_posts_json_and_accepts_data(api: Api, checker: HttpChecker) -> None:
    assert checker.smoke("POST", "/graphql", QUERY) == (True, "HTTP 200")
    assert api.requests == [("POST", "/graphql", QUERY, "application/json")]


def test_smoke_fails_on_graphql_errors_even_with_200(api: Api, checker: HttpChecker) -> None:
    api.graphql_body = {
        "data": None,
        "errors": [{"message": "relation explorer_block_details does not exist"}],
    }
    ok, detail = checker.smoke("POST", "/graphql", QUERY)
    assert not ok
    assert detail == "HTTP 200 with errors: relation explorer_block_details does not exist"
    api.graphql_body = {"data": {"x": 1}, "errors": []}  # empty errors are fine
    assert checker.smoke("POST", "/graphql", QUERY)[0]


def test_smoke_fails_on_http_error_and_tolerates_non_json(api: Api, checker: HttpChecker) -> None:
    api.graphql_status = 502
    assert checker.smoke("POST", "/graphql", QUERY) == (False, "HTTP 502")
    api.graphql_status = 200
    api.graphql_body = b"not json at all"
    assert checker.smoke("POST", "/graphql", QUERY) == (True, "HTTP 200")


def test_unreachable_and_slow_are_short_details(api: Api) -> None:
    refused = HttpChecker(f"http://127.0.0.1:{REFUSED_PORT}")
    try:
        assert refused.health("/health") == (False, "connection refused")
        assert refused.smoke("POST", "/graphql", QUERY) == (False, "connection refused")
    finally:
        refused.close()
    api.delay = 3.0
    slow = HttpChecker(f"http://127.0.0.1:{api.port}")
    try:
        started = time.monotonic()
        assert slow.health("/health") == (False, "no answer within 2 s")
        assert time.monotonic() - started < 2.8
    finally:
        slow.close()
