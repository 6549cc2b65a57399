"""Several edge proxies in `status` and `status --json`: each edge's colour as the agent last
read it, whether they agree, and the intent they are held to ([[proxy.edges]])."""

from __future__ import annotations

from typing import Any

from console.core.contracts.edges import EdgeReading, EdgesView
from console.core.durations import duration_text


def view_json(view: EdgesView | None, now: float) -> dict[str, Any] | None:
    if view is None:
        return None
    return {
        "agree": view.agree,
        "read_seconds_ago": round(max(0.0, now - view.at), 1),
        "intent": None
        if view.intent is None
        else {"color": view.intent.color, "what": view.intent.what, "at": view.intent.at},
        "edges": [_edge_json(r) for r in view.readings],
    }


def status_lines(view: EdgesView | None, now: float) -> list[str]:
    """One line for the edges together, then one per edge."""
    if view is None:
        return []
    ago = duration_text(max(0.0, now - view.at))
    count = len(view.readings)
    if view.agree:
        head = f"edges: all {count} agree (read {ago} ago)"
    else:
        intent = f"; the agent re-applies: {view.intent.describe()}" if view.intent else ""
        head = f"edges: the {count} edges DO NOT AGREE (read {ago} ago){intent}"
    return [head, *(f"  {r.describe()}" for r in view.readings)]


def _edge_json(reading: EdgeReading) -> dict[str, Any]:
    seen = reading.seen
    return {
        "name": reading.name,
        "host": reading.host,
        "answered": seen.answered,
        "color": seen.color,
        "canary": None if seen.canary is None else seen.canary.as_dict(),
    }
