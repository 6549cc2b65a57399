"""Notifications to a Slack-compatible incoming webhook (`{"text": "..."}`).

The caller is the agent's watcher loop, which must never wait on Slack nor crash because of it:
`send` only redacts, applies the rate limit and enqueues; one daemon thread posts. A dead or slow
webhook costs queued messages (counted in `dropped` when the queue fills), never the caller's time.

Rate limit: at most one message per kind per `min_interval_seconds` (milestones, ETA warnings…),
except the kinds an operator must always hear about — a failure, a switch, a rollback — which only
lose exact repeats within a few seconds (a retry loop must not page ten times).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from console.core.config.schema import NotifyConfig
from console.core.redact import Redactor

log = logging.getLogger(__name__)

ALWAYS_SENT_KINDS = frozenset({"failure", "switched", "rolled_back"})
DEDUP_SECONDS = 5.0
QUEUE_SIZE = 100
_ICONS = {"success": "✅ ", "warning": "⚠️ ", "error": "🚨 "}


class TextRedactor(Protocol):
    def redact(self, text: str) -> str: ...


@dataclass(frozen=True, slots=True)
class _Message:
    kind: str
    text: str


class WebhookNotifier:
    """`send()` never blocks and never raises; `close()` gives queued messages a chance to leave."""

    def __init__(
        self,
        config: NotifyConfig,
        service: str,
        redactor: TextRedactor,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.service = service
        self.enabled = bool(config.webhook_url)
        self._redactor = redactor
        # The webhook URL is itself a secret; errors about posting to it must not show it.
        self._url_redactor = Redactor([config.webhook_url] if config.webhook_url else [])
        self._clock = clock
        self._transport = transport
        self._queue: queue.Queue[_Message | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._lock = threading.Lock()
        self._last_sent_by_kind: dict[str, float] = {}
        self._recent: dict[tuple[str, str], float] = {}
        self._closed = False
        self.sent = 0
        self.failed = 0
        self.dropped = 0  # queue full, or sent after close
        self.suppressed = 0  # rate-limited or duplicate
        self.last_error: str | None = None  # redacted
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="bluegreen-notify", daemon=True)
            self._thread.start()

    # ── caller side ──
    def send(self, kind: str, text: str, level: str = "info") -> None:
        """Queue one message of `kind` (e.g. milestone, eta, ready, switched, failure)."""
        try:
            self._send(kind, text, level)
        except Exception:  # a notification must never take the watcher down
            log.exception("notification of kind %r could not be queued", kind)

    def _send(self, kind: str, text: str, level: str) -> None:
        if not self.enabled:
            return
        body = self._redactor.redact(f"{_ICONS.get(level, '')}[{self.service}] {text}")
        now = self._clock()
        with self._lock:
            if self._closed:
                self.dropped += 1
                return
            if not self._admit(kind, body, now):
                self.suppressed += 1
                return
        try:
            self._queue.put_nowait(_Message(kind, body))
        except queue.Full:
            with self._lock:
                self.dropped += 1

    def _admit(self, kind: str, body: str, now: float) -> bool:
        """The rate limit and de-duplication, under the lock."""
        if kind in ALWAYS_SENT_KINDS:
            self._recent = {k: t for k, t in self._recent.items() if now - t < DEDUP_SECONDS}
            if (kind, body) in self._recent:
                return False
            self._recent[(kind, body)] = now
            return True
        last = self._last_sent_by_kind.get(kind)
        if last is not None and now - last < self.config.min_interval_seconds:
            return False
        self._last_sent_by_kind[kind] = now
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 5.0) -> bool:
        """Stop accepting messages and wait up to `timeout` s for the queue to drain.

        Returns True when everything queued was posted (or failed) in time. A webhook that hangs
        past the timeout is abandoned: the thread is a daemon and dies with the process.
        """
        with self._lock:
            self._closed = True
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(None, timeout=max(0.0, timeout))
        except queue.Full:
            return False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    # ── worker side ──
    def _run(self) -> None:
        with httpx.Client(timeout=self.config.timeout_seconds, transport=self._transport) as client:
            while True:
                message = self._queue.get()
                if message is None:
                    return
                self._post(client, message)

    def _post(self, client: httpx.Client, message: _Message) -> None:
        try:
            response = client.post(self.config.webhook_url, json={"text": message.text})
            if response.is_success:
                self.sent += 1
                return
            problem = f"the webhook answered HTTP {response.status_code}"
        except httpx.TimeoutException:
            problem = f"the webhook did not answer within {self.config.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            problem = f"the webhook is unreachable ({type(exc).__name__})"
        except Exception as exc:  # never let the worker die: later messages still matter
            problem = f"posting failed ({type(exc).__name__}: {exc})"
        self.failed += 1
        self.last_error = self._url_redactor.redact(
            f"A {message.kind} notification was not delivered: {problem}. "
            "Check notify.webhook_url and the network."
        )
        log.warning("%s", self.last_error)
