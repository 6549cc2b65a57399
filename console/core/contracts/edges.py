"""What the core asks of several edge proxies switched as one (`[[proxy.edges]]`, issue 25.3).

The edges are one `ProxyDriver` to the core (console/drivers/proxy/edges: a composite over each
edge's own driver), so a switch stays one call. Beyond that contract the composite has two
capabilities, a separate Protocol as `SessionRouter` is, so a single proxy needs nothing:

- the intent: where every edge should route, written to the store (an `IntentJournal`) before any
  edge is changed, and again once they are read back or put back;
- each edge's own reading, and `converge`: the intent re-applied to an edge that differs from it
  (restarted with an old file, or silent through a switch) — the agent's reconciler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from console.core.contracts.offers import offers
from console.core.contracts.proxy import ReadBack
from console.core.model import Canary, Color, parse_color


@dataclass(frozen=True, slots=True)
class EdgeIntent:
    """Where every edge routes once the change `what` is done (written before it starts)."""

    color: Color | None
    canary: Canary | None = None
    what: str = ""  # "switch to green", "canary 10 % of clients to green", "put back to blue"
    at: float = 0.0

    def describe(self) -> str:
        where = f"routes to {self.color}" if self.color else "routes to nothing"
        return f"{where} ({self.canary.describe()})" if self.canary else where

    def met_by(self, seen: ReadBack) -> bool:
        """Whether an edge's read-back is this intent (an unanswered one is not)."""
        return seen.answered and seen.color == self.color and seen.canary == self.canary

    def to_json(self) -> str:
        canary = self.canary.as_dict() if self.canary else None
        return json.dumps({"color": self.color, "canary": canary, "what": self.what, "at": self.at})

    @classmethod
    def from_json(cls, text: str) -> EdgeIntent | None:
        try:
            data = json.loads(text)
            raw = data.get("canary")
            canary_color = parse_color(raw["color"]) if raw else None
            canary = Canary(canary_color, int(raw["percent"])) if canary_color and raw else None
            color = parse_color(data["color"]) if data.get("color") else None
            return cls(color, canary, str(data.get("what", "")), float(data.get("at", 0.0)))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclass(frozen=True, slots=True)
class EdgeReading:
    """One edge as read just now: its name, the host it runs on, and where it routes."""

    name: str
    host: str
    seen: ReadBack

    @property
    def label(self) -> str:
        return f"edge {self.name} ({self.host})"

    def describe(self) -> str:
        if not self.seen.answered:
            return f"{self.label} did not answer"
        where = f"routes to {self.seen.color}" if self.seen.color else "routes to nothing"
        if self.seen.canary:
            where += f" ({self.seen.canary.describe()})"
        return f"{self.label} {where}"


@dataclass(frozen=True, slots=True)
class EdgesView:
    """What `status` shows of several edges: each as the agent last read it, and the intent."""

    at: float  # when the agent read them
    readings: tuple[EdgeReading, ...]
    intent: EdgeIntent | None

    @property
    def agree(self) -> bool:
        """Every edge answered, with one routing (and that is the intent, when there is one)."""
        common = agreement(self.readings)
        answered = all(r.seen.answered for r in self.readings)
        return common is not None and answered and (not self.intent or self.intent.met_by(common))


def agreement(readings: tuple[EdgeReading, ...]) -> ReadBack | None:
    """The one routing every answering edge has; None when they differ (or none answered)."""
    answered = {(r.seen.color, r.seen.canary) for r in readings if r.seen.answered}
    if len(answered) != 1:
        return None
    color, canary = answered.pop()
    return ReadBack(True, color, canary)


class IntentJournal(Protocol):
    """Where the intent is kept (the store: console/core/ops/edges.py)."""

    def record(self, intent: EdgeIntent) -> None:
        """Keep `intent`, replacing the last; raises when it cannot (then nothing may change)."""

    def recorded(self) -> EdgeIntent | None:
        """The last intent kept (None: none yet)."""


@runtime_checkable
class EdgeProxies(Protocol):
    def keep_intent_in(self, journal: IntentJournal) -> None:
        """Record every intent in `journal` from now on (before any edge changes)."""

    def edge_readings(self) -> tuple[EdgeReading, ...]:
        """Every edge read in parallel, each within its bound; never raises."""

    def converge(self) -> list[str]:
        """Re-apply the recorded intent to each answering edge that differs from it, read it
        back; one sentence per edge changed (or that could not be). The caller holds the lock."""


def edge_proxies(proxy: object) -> EdgeProxies | None:
    """The proxy as several edges, or None for a single proxy."""
    return proxy if offers(proxy, EdgeProxies) else None  # type: ignore[type-abstract]
