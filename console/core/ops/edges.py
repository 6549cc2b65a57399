"""Several edge proxies: the agent's convergence, and the store as the edges' intent journal.

The edge composite (console/drivers/proxy/edges) writes where every edge must route to the store
before it changes any edge. Each tick the agent reads every edge (on the proxy sampler's thread,
so a hung edge costs the tick nothing), publishes the readings for `status`, and when an edge
that answers differs from the recorded intent — it restarted with an old file, or was silent
through a switch and its put-back — re-applies the intent to that edge under the operator lock
(taken without waiting: a switch in flight is never fought), reads it back and records an `edges`
event saying which edge was converged.
"""

from __future__ import annotations

import time

from console.core.contracts.edges import edge_proxies
from console.core.installation import Installation
from console.core.lock import LockHeld
from console.core.model import Actor


def converge_edges(inst: Installation, actor: Actor) -> list[str]:
    """Re-apply the recorded intent to every edge that answers and differs from it; the
    sentences recorded (empty: a single proxy, every edge as intended, or the lock is held)."""
    edges = edge_proxies(inst.proxy)
    if edges is None:
        return []
    readings = edges.edge_readings()
    inst.store.put_edge_readings(readings, time.time())
    intent = inst.store.edge_intent()
    if intent is None or all(intent.met_by(r.seen) for r in readings if r.seen.answered):
        return []
    try:
        with inst.lock.acquire("converge the edge proxies", actor):
            sentences = edges.converge()  # reads the intent and every edge again, under the lock
    except LockHeld:
        return []  # an operation holds it: the next tick after it decides
    # A failure that repeats every tick (the colour does not answer through that edge) is said
    # once, not once a second; each convergence that worked is said.
    said = {e.text for e in inst.store.events(limit=50) if e.kind == "edges"}
    sentences = [s for s in sentences if "converged" in s or s not in said]
    for sentence in sentences:
        inst.store.record_event("edges", sentence, "warning", str(actor))
        inst.notifier.send("drift", f"{inst.config.service}: {sentence}", "warning")
    if sentences:
        inst.store.put_edge_readings(edges.edge_readings(), time.time())
    return sentences
