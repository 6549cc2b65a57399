"""A colour's HTTP checks on the agent's own thread (console/agent/slot_checks.py, `quick`): a
local service that answers within the bound is checked there, waking no thread, with the same
result as the thread's; one that does not answer in time, trickles its answer, or needs a name
looked up goes to the sampler's thread, with its full timeout, and is not asked quickly again
for a while."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from console.agent.samplers import QUICK_READ_SECONDS, sample_round
from console.agent.slot_checks import SlotChecks
from console.core.config.load import parse_config
from console.drivers.checks import HttpChecker, QuickMiss
from tests.unit.loopback_http import Loopback, loopback_server, refused_url

CONFIG = """
service = "web"
[image]
repository = "web"
[slots.blue]
container = "web-blue"
host_port = {port}
[slots.green]
container = "web-green"
host_port = 1
[readiness]
health_path = "/health"
health_expect = "ok"
smoke_path = "/api"
smoke_method = "POST"
smoke_body = '{{"query": "{{ ping }}"}}'
"""


@pytest.fixture
def service() -> Iterator[Loopback]:
    with loopback_server() as server:
        server.text("/health", "ok")
        server.json("/api", {"data": {"ping": "pong"}})
        yield server


def quick(base: str) -> HttpChecker:
    return HttpChecker(base, quick_within=QUICK_READ_SECONDS)


def test_a_quick_check_answers_as_the_full_one(service: Loopback) -> None:
    base = service.url("")
    assert quick(base).health("/health", "ok") == HttpChecker(base).health("/health", "ok")
    assert quick(base).smoke("POST", "/api", "{}") == (True, "HTTP 200")
    # A refusal within the bound is the check's result, not a miss.
    assert quick(refused_url("")).health("/health") == (False, "connection refused")


def test_a_slow_answer_a_trickle_or_a_name_is_a_miss() -> None:
    with loopback_server() as server:
        server.text("/health", "ok", delay=1.0)
        started = time.monotonic()
        with pytest.raises(QuickMiss):
            quick(server.url("")).health("/health")
        assert time.monotonic() - started < 3 * QUICK_READ_SECONDS
    with trickling_server() as port:  # a byte every 30 ms: each wait is short, the whole is not
        started = time.monotonic()
        with pytest.raises(QuickMiss):
            quick(f"http://127.0.0.1:{port}").health("/health")
        assert time.monotonic() - started < 3 * QUICK_READ_SECONDS
    with pytest.raises(QuickMiss):  # a name's lookup has no bound: never on the asking thread
        quick("http://localhost:1").health("/health")


def test_the_checks_sampler_answers_on_the_asking_thread(service: Loopback) -> None:
    checks = SlotChecks(parse_config(CONFIG.format(port=service.port)), "blue", 3.0)
    woken = []
    thread_read = checks.sampler._read
    checks.sampler._read = lambda: woken.append(1) or thread_read()  # type: ignore[method-assign]
    try:
        for _ in range(3):
            sample_round([checks.sampler], budget_seconds=2.0)
        results = checks.results(time.time())
        assert (results.health_ok, results.smoke_ok) == (True, True)
        assert woken == []  # never woken: three rounds on the asking thread
        assert [r.path for r in service.received] == ["/health", "/api"] * 3
    finally:
        checks.sampler.close()


def test_a_slow_service_is_checked_by_the_thread_and_not_asked_quickly_again(
    service: Loopback,
) -> None:
    service.text("/health", "ok", delay=0.3)  # a slow health endpoint: past the quick bound
    checks = SlotChecks(parse_config(CONFIG.format(port=service.port)), "blue", 3.0)
    try:
        sample_round([checks.sampler], budget_seconds=3.0)
        assert checks.results(time.time()).health_ok is True  # the thread's, full timeout
        sample_round([checks.sampler], budget_seconds=3.0)
        assert checks.results(time.time()).health_ok is True
        # The first round tried quickly (answered late, unread), then the thread checked; the
        # second went to the thread at once (QUICK_BACKOFF_SECONDS): three requests, not four.
        healths = [r.path for r in service.received if r.path == "/health"]
        assert len(healths) == 3
    finally:
        checks.sampler.close()


class trickling_server:
    """Answers every request with a valid answer, one byte every 30 ms."""

    def __enter__(self) -> int:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()
        return int(self.listener.getsockname()[1])

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + b"o" * 40
            try:
                for byte in answer:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.03)
            except OSError:
                pass

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
