"""What the core asks of a notification channel: send a message, never block, never raise.

`console/drivers/notify.py` implements it for a Slack-compatible incoming webhook; another channel
(email, PagerDuty) is one more class there and one change in `console.wiring`.
"""

from __future__ import annotations

from typing import Protocol


class Notifier(Protocol):
    def send(self, kind: str, text: str, level: str = "info") -> None:
        """Queue one message of `kind` (milestone, eta, ready, switched, failure, …); rate-limited
        per kind, redacted, and never raising: a notification must not take the caller down."""
        ...

    def close(self, timeout: float = 5.0) -> bool:
        """Stop accepting messages; wait up to `timeout` s for the queue to drain (True: it did)."""
        ...
