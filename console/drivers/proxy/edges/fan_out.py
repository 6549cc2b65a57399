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
# A healthy edge finishes within milliseconds of the others: after this, one still running is
# asked whether it answers at all (then every LOOK_EVERY_SECONDS).
GRACE_SECONDS = 0.25
LOOK_EVERY_SECONDS = 0.5


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


def fan_out(
    edges: Sequence[Edge],
    call: Callable[[Edge], T],
    bound: float,
    gone: Callable[[Edge], bool] | None = None,
) -> list[Done[T]]:
    """`call(edge)` for every edge in parallel; each outcome, in the order of `edges`.

    `gone`: once another edge has finished, an edge still running is asked every so often
    whether it has stopped answering altogether (its read-back); one that has is given up at
    once, as hung, instead of at the bound — so the edges that did change are put back seconds
    sooner. An edge that is merely slow (its colour slow to answer through it) still answers
    its read-back, and is waited for."""
    outcomes: dict[str, Done[T]] = {}
    lock = threading.Lock()
    changed = threading.Event()

    def run(edge: Edge) -> None:
        try:
            done: Done[T] = Done(edge, value=call(edge))
        except ProxyError as exc:
            done = Done(edge, error=str(exc), read_back=exc.read_back)
        except Exception as exc:  # a driver bug must not pass for a hang
            done = Done(edge, error=f"{type(exc).__name__}: {exc}")
        with lock:
            outcomes[edge.name] = done
        changed.set()

    for edge in edges:
        threading.Thread(target=run, args=(edge,), name=f"edge-{edge.name}", daemon=True).start()
    deadline = time.monotonic() + bound
    given_up: dict[str, Done[T]] = {}
    first_done: float | None = None
    next_look = 0.0
    while True:
        with lock:
            finished = {**outcomes, **given_up}
        running = [edge for edge in edges if edge.name not in finished]
        now = time.monotonic()
        if not running or now >= deadline:
            break
        if finished and first_done is None:
            first_done = now
        if (
            gone is not None
            and first_done is not None
            and now >= max(next_look, first_done + GRACE_SECONDS)
        ):
            for edge in running:
                if gone(edge):
                    given_up[edge.name] = Done(
                        edge, error="it stopped answering in the middle of the change", hung=True
                    )
            next_look = time.monotonic() + LOOK_EVERY_SECONDS
            continue
        changed.wait(min(0.05, max(0.0, deadline - now)))
        changed.clear()
    with lock:
        finished = {**outcomes, **given_up}
    return [
        finished.get(edge.name)
        or Done(edge, error=f"it gave no answer within {bound:g} s (hung?)", hung=True)
        for edge in edges
    ]
