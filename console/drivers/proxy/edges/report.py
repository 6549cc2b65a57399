"""The one paragraph an operator reads after a change that failed on some edge: which host
failed and why, that every edge was put back, and where each edge routes now (read back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from console.core.contracts.edges import EdgeIntent, EdgeReading
from console.drivers.proxy.edges.fan_out import Done


def failed_text(what: str, failures: Sequence[Done[Any]]) -> str:
    """ "The switch to green failed on edge b (10.80.0.3): <its reason>" for each failed edge."""
    parts = [f"{done.edge.label}: {_clause(done.error or 'it failed')}" for done in failures]
    hosts = "; and on ".join(parts)
    return f"The {what} failed on {hosts}."


def peers_failed_text(color: str, failures: Sequence[Done[Any]], every: int) -> str:
    """A replica list some edges did not take: which, why, and that the others route to it."""
    took = every - len(failures)
    plural = took != 1
    others = (
        f"the other {took} edge{'s' if plural else ''} took it and "
        f"route{'' if plural else 's'} {color} to it"
        if took
        else "no edge took it"
    )
    return (
        f"{failed_text(f'replica list for {color}', failures)} {others.capitalize()}; the "
        "agent sends the list again on its next tick until every edge has it."
    )


def put_back_text(
    what: str,
    failures: Sequence[Done[Any]],
    back: EdgeIntent,
    after: Sequence[EdgeReading],
) -> str:
    """The whole paragraph: the failure, the put-back, each edge's state read back, and what
    the agent does about an edge that did not answer or still differs."""
    state = "; ".join(_state(reading, back) for reading in after)
    settled = all(back.met_by(r.seen) for r in after)
    tail = (
        "Every edge is back as it was; retry once the failed host is fixed."
        if settled
        else f"The agent re-applies the recorded intent ({back.describe()}) to each edge that "
        "differs as soon as it answers; `bluegreen status` shows every edge."
    )
    return (
        f"{failed_text(what, failures)} Every edge was put back ({back.describe()}), and read "
        f"back: {state}. {tail}"
    )


def silent_text(what: str, silent: Sequence[EdgeReading], every: int) -> str:
    """A change refused because an edge did not answer before it (nothing was sent)."""
    names = ", ".join(r.label for r in silent)
    return (
        f"No {what} was sent to any of the {every} edges: {names} did not answer a read-back, "
        "and a change goes to every edge or to none. Bring it back (or take it out of "
        "[[proxy.edges]]), then retry."
    )


def rule_text(rules: Sequence[Done[Any]]) -> str:
    """Each edge's sessions rule read back: "edge b (10.82.0.2) keeps none; …"."""
    return "; ".join(
        f"{d.edge.label} keeps {d.value.describe() if d.value else 'no sessions rule'}"
        for d in rules
    )


def _state(reading: EdgeReading, back: EdgeIntent) -> str:
    text = reading.describe()
    if not reading.seen.answered:
        return f"{text} (it routes as it did when it stopped answering)"
    return text if back.met_by(reading.seen) else f"{text}, NOT as intended"


def _clause(sentence: str) -> str:
    return sentence.strip().rstrip(".")
