"""The header's line for several edge proxies ([[proxy.edges]]): each edge's host and where it
routes as the agent last read it; an edge that does not answer, or differs from the intent (from
the others, when no intent is recorded), stands out, with what the agent re-applies."""

from __future__ import annotations

from console.core.contracts.edges import EdgeReading, EdgesView, agreement
from console.core.durations import duration_text
from console.core.model import Status


def edges_parts(status: Status, now: float) -> list[str | tuple[str, str]]:
    """'\\nedges  default (10.0.0.2) → blue · b (10.0.0.3) → blue  read 2s ago', or nothing
    for a single proxy."""
    view = status.edges
    if view is None:
        return []
    parts: list[str | tuple[str, str]] = ["\n", ("edges ", "bold")]
    for index, reading in enumerate(view.readings):
        parts += [" · " if index else " ", _edge_part(reading, view)]
    if not view.agree:
        again = f": the agent re-applies {view.intent.describe()}" if view.intent else ""
        parts.append((f"  EDGES DO NOT AGREE{again}", "bold $error"))
    parts.append((f"  read {duration_text(max(0.0, now - view.at))} ago", "$text-muted"))
    return parts


def _edge_part(reading: EdgeReading, view: EdgesView) -> tuple[str, str]:
    seen = reading.seen
    where = f"{reading.name} ({reading.host})"
    if not seen.answered:
        return f"{where} ✗ no answer", "bold $error"
    routes: str = seen.color or "nothing"
    if seen.canary:
        routes += f" + {seen.canary.percent} % → {seen.canary.color}"
    differs = not view.intent.met_by(seen) if view.intent else agreement(view.readings) is None
    return f"{where} → {routes}", "bold $error" if differs else "$text"
