"""What the core asks of a proxy that keeps sessions on their colour ([sessions], issue 26.1).

A separate Protocol from `ProxyDriver`, so a proxy without the capability needs nothing: the core
asks `keeps_sessions(proxy)` and a session-kept switch is refused where it is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from console.core.contracts.offers import offers
from console.core.model import Color


@dataclass(frozen=True, slots=True)
class KeptSessions:
    """Clients whose session cookie equals `match` stay on `old` while `new` is live."""

    old: Color
    match: str  # the cookie value of a session that started on `old` (its colour or version)
    new: Color

    def describe(self) -> str:
        return f"sessions started on {self.old} stay there while {self.new} is live"


@runtime_checkable
class SessionRouter(Protocol):
    def set_sessions(self, kept: KeptSessions | None) -> None:
        """Route clients whose session cookie matches to `kept.old` (None: nobody is kept);
        ProxyError when the proxy did not take it."""

    def sessions_seen(self) -> dict[str, int] | None:
        """The proxy's own count of sessions per colour (distinct `[sessions] count_cookie`
        values in the window); None when it does not count them or did not answer; ProxyError
        with a sentence when it should count and cannot (nginx reload mode without Lua)."""

    def kept_sessions(self) -> KeptSessions | None:
        """What the running proxy keeps now; None when nothing (or it cannot be told)."""


def keeps_sessions(proxy: object) -> SessionRouter | None:
    """The proxy as a `SessionRouter`, or None when it cannot keep sessions."""
    return proxy if offers(proxy, SessionRouter) else None  # type: ignore[type-abstract]
