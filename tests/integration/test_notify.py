"""The webhook notifier against real local HTTP servers: delivery, redaction, dead, slow hooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from console.core.config.schema import NotifyConfig
from console.core.redact import Redactor
from console.drivers.notify import WebhookNotifier
from tests import ports

pytestmark = pytest.mark.integration

OK_PORT = ports.NOTIFY_OK
REFUSED_PORT = ports.NOTIFY_REFUSED
SLOW_PORT = ports.NOTIFY_SLOW
DB_URL = "postgresql://explorer:Sup3r-Secret-DB@10.0.0.5:5432/explorer"


@dataclass
class Webhook:
    url: str
    bodies: list[dict[str, object]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def bind_http(handler: type[BaseHTTPRequestHandler], preferred: int) -> ThreadingHTTPServer:
    """Our assigned port, or any free one: the assigned ports sit in the kernel's ephemeral range,
    so another process's outgoing connection (or its TIME_WAIT) can hold one for a minute."""
    try:
        return ThreadingHTTPServer(("127.0.0.1", preferred), handler)
    except OSError:
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)


def serve(port: int, delay: float) -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            hook.bodies.append(json.loads(self.rfile.read(length)))
            hook.received.set()
            hook.release.wait(delay)  # a slow webhook; released at teardown
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = bind_http(Handler, port)
    hook.url = f"http://127.0.0.1:{httpd.server_address[1]}/services/T1/B2/tok3nS3cret"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture()
def webhook() -> Iterator[Webhook]:
    yield from serve(OK_PORT, delay=0)


@pytest.fixture()
def slow_webhook() -> Iterator[Webhook]:
    yield from serve(SLOW_PORT, delay=10)


def notifier_for(url: str, **config: object) -> WebhookNotifier:
    cfg = NotifyConfig(webhook_url=url, **config)  # type: ignore[arg-type]
    return WebhookNotifier(cfg, "explorer", Redactor([DB_URL, url]))


def timed_send(notifier: WebhookNotifier, kind: str, text: str) -> float:
    started = time.perf_counter()
    notifier.send(kind, text, level="error")
    return time.perf_counter() - started


def test_message_arrives_as_slack_json_and_redacted(webhook: Webhook) -> None:
    notifier = notifier_for(webhook.url)
    notifier.send("failure", f"green exited: cannot connect to {DB_URL}", level="error")
    assert notifier.close(5)
    assert notifier.sent == 1
    (body,) = webhook.bodies
    assert set(body) == {"text"}
    text = str(body["text"])
    assert text.startswith("🚨 [explorer] green exited: cannot connect to ")
    assert "Sup3r-Secret-DB" not in text


def test_rate_limit_with_real_clock(webhook: Webhook) -> None:
    notifier = notifier_for(webhook.url, min_interval_seconds=30.0)
    notifier.send("milestone", "green passed 1,000,000")
    notifier.send("milestone", "green passed 2,000,000")
    notifier.send("switched", "switched blue → green")
    notifier.send("switched", "switched blue → green")
    assert notifier.close(5)
    assert [b["text"] for b in webhook.bodies] == [
        "[explorer] green passed 1,000,000",
        "[explorer] switched blue → green",
    ]
    assert notifier.suppressed == 2


def test_refused_webhook_never_blocks_nor_raises() -> None:
    url = f"http://127.0.0.1:{REFUSED_PORT}/services/T1/B2/tok3nS3cret"
    notifier = notifier_for(url, timeout_seconds=1.0)
    durations = [timed_send(notifier, "failure", f"failure {i}") for i in range(5)]
    assert max(durations) < 0.05
    assert notifier.close(5)
    assert notifier.failed == 5 and notifier.sent == 0
    assert notifier.last_error is not None
    assert "tok3nS3cret" not in notifier.last_error
    assert "unreachable" in notifier.last_error


def test_slow_webhook_never_blocks_the_caller(slow_webhook: Webhook) -> None:
    notifier = notifier_for(slow_webhook.url, timeout_seconds=5.0)
    assert timed_send(notifier, "failure", "first") < 0.05
    assert slow_webhook.received.wait(5)  # the worker is now stuck in the slow POST
    durations = [timed_send(notifier, "failure", f"more {i}") for i in range(20)]
    assert max(durations) < 0.05
    started = time.monotonic()
    assert notifier.close(0.5) is False  # gave up waiting; the daemon thread is abandoned
    assert time.monotonic() - started < 1.5
