"""The webhook notifier: rate limit, de-duplication, redaction, queue bounds (all faked)."""

from __future__ import annotations

import json
import threading

import httpx

from console.core.config.schema import NotifyConfig
from console.core.redact import Redactor
from console.drivers import notify
from console.drivers.notify import WebhookNotifier

WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """An httpx transport that records posted texts; `gate` can hold the worker back."""

    def __init__(self, status: int = 200) -> None:
        self.texts: list[str] = []
        self.urls: list[str] = []
        self.status = status
        self.gate = threading.Event()
        self.gate.set()

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.gate.wait(10)
            self.urls.append(str(request.url))
            self.texts.append(json.loads(request.content)["text"])
            return httpx.Response(self.status)

        return httpx.MockTransport(handle)


def make(recorder: Recorder, clock: Clock, **config: object) -> WebhookNotifier:
    cfg = NotifyConfig(webhook_url=WEBHOOK, min_interval_seconds=30.0, **config)  # type: ignore[arg-type]
    return WebhookNotifier(
        cfg, "explorer", Redactor(["db-Pa55word"]), clock=clock, transport=recorder.transport()
    )


def test_rate_limit_per_kind() -> None:
    recorder, clock = Recorder(), Clock()
    notifier = make(recorder, clock)
    notifier.send("milestone", "1 M blocks")
    notifier.send("milestone", "2 M blocks")  # too soon: same kind
    notifier.send("eta", "15 min left")  # another kind has its own budget
    clock.now += 30
    notifier.send("milestone", "3 M blocks")
    assert notifier.close(5)
    assert recorder.texts == [
        "[explorer] 1 M blocks",
        "[explorer] 15 min left",
        "[explorer] 3 M blocks",
    ]
    assert recorder.urls == [WEBHOOK] * 3
    assert notifier.suppressed == 1 and notifier.sent == 3


def test_important_kinds_bypass_rate_limit_but_are_deduplicated() -> None:
    recorder, clock = Recorder(), Clock()
    notifier = make(recorder, clock)
    for kind in ("failure", "switched", "rolled_back"):
        notifier.send(kind, f"{kind} one", level="error")
        notifier.send(kind, f"{kind} two", level="error")
        notifier.send(kind, f"{kind} one", level="error")  # exact repeat within 5 s
    clock.now += 5
    notifier.send("failure", "failure one", level="error")  # repeat after the window: sent
    assert notifier.close(5)
    assert len(recorder.texts) == 7
    assert recorder.texts[:2] == ["🚨 [explorer] failure one", "🚨 [explorer] failure two"]
    assert notifier.suppressed == 3


def test_text_is_redacted_before_queueing() -> None:
    recorder, clock = Recorder(), Clock()
    notifier = make(recorder, clock)
    notifier.send("failure", "blue died: postgresql://user:db-Pa55word@db/x and password=hunter22")
    assert notifier.close(5)
    (text,) = recorder.texts
    assert "db-Pa55word" not in text and "hunter22" not in text
    assert "blue died" in text


def test_disabled_without_webhook_does_nothing() -> None:
    notifier = WebhookNotifier(NotifyConfig(webhook_url=""), "svc", Redactor())
    assert not notifier.enabled
    notifier.send("failure", "x")
    assert notifier.close(0.1)
    assert notifier.sent == notifier.dropped == notifier.suppressed == 0


def test_full_queue_drops_and_counts() -> None:
    recorder, clock = Recorder(), Clock()
    recorder.gate.clear()  # the webhook hangs: nothing leaves the queue
    notifier = make(recorder, clock)
    total = notify.QUEUE_SIZE + 20
    for i in range(total):
        notifier.send("failure", f"message {i}")
    # One message may already be in the worker's hands, out of the queue.
    assert 19 <= notifier.dropped <= 20
    recorder.gate.set()
    assert notifier.close(10)
    assert notifier.sent == total - notifier.dropped


def test_send_after_close_is_dropped_quietly() -> None:
    recorder, clock = Recorder(), Clock()
    notifier = make(recorder, clock)
    notifier.close(1)
    notifier.send("failure", "late")
    assert notifier.dropped == 1 and recorder.texts == []


def test_failed_post_is_counted_and_error_hides_the_webhook() -> None:
    recorder, clock = Recorder(status=500), Clock()
    notifier = make(recorder, clock)
    notifier.send("failure", "x")
    assert notifier.close(5)
    assert notifier.failed == 1 and notifier.sent == 0
    assert notifier.last_error is not None and "HTTP 500" in notifier.last_error
    assert "XXXXSECRETXXXX" not in notifier.last_error


def test_send_never_raises_even_if_redaction_breaks() -> None:
    class Broken:
        def redact(self, text: str) -> str:
            raise RuntimeError("boom")

    notifier = WebhookNotifier(
        NotifyConfig(webhook_url=WEBHOOK), "svc", Broken(), transport=Recorder().transport()
    )
    notifier.send("failure", "x")  # must not raise
    assert notifier.close(1)
