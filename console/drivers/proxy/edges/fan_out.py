"""One call on every edge at once, each on its own thread, each within a bound.

An edge that hangs (a SIGSTOPped nginx, a link that drops packets) must not hang the switch: the
caller gets every edge's outcome once all are done or the bound has passed, whichever is first.
A call still running then is left to finish on its daemon thread, and its outcome is ignored:
what that edge really did is read back afterwards (and the agent re-applies the intent to it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from console.core.contracts.proxy import ProxyError, ReadBack
from console.drivers.proxy.edges.edge import Edge

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """One edge's outcome: its value, or what went wrong (one sentence)."""

    edge: Edge
    value: T | None = None
    error: str | None = None
    read_back: ReadBack | None = None  # what the driver read after its failure, if it did
    hung: bool = False  # the call had not returned within the bound

    @property
    def ok(self) -> bool:
        return self.error is None


def fan_out(edges: Sequence[Edge], call: Callable[[Edge], T], bound: float) -> list[Done[T]]:
    """`call(edge)` for every edge in parallel; each outcome, in the order of `edges`."""
    outcomes: dict[str, Done[T]] = {}
    lock = threading.Lock()

    def run(edge: Edge) -> None:
        try:
            done: Done[T] = Done(edge, value=call(edge))
        except ProxyError as exc:
            done = Done(edge, error=str(exc), read_back=exc.read_back)
        except Exception as exc:  # a driver bug must not pass for a hang
            done = Done(edge, error=f"{type(exc).__name__}: {exc}")
        with lock:
            outcomes[edge.name] = done

    threads = [
        threading.Thread(target=run, args=(edge,), name=f"edge-{edge.name}", daemon=True)
        for edge in edges
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + bound
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        finished = dict(outcomes)
    return [
        finished.get(edge.name)
        or Done(edge, error=f"it gave no answer within {bound:g} s (hung?)", hung=True)
        for edge in edges
    ]
