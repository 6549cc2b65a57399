"""[sessions] across several edges: the session-kept switch's rule on every edge, or on none.

`SessionEdgeSet` is the `EdgeSet` built when every edge's own driver keeps sessions (nginx live
and reload, HAProxy — mixed kinds too), so `keeps_sessions(proxy)` holds for it exactly as for
one such proxy. Its steps are the composite's: every edge answers or nothing is sent; the rule
goes to every edge in parallel; each is read back; on any failure every edge gets back the rule
it had, and one paragraph names the failed host. The intent for the rule is the store's
migration (console/core/store/sessions.py), which the agent's session watch re-applies to every
edge each tick it differs — an edge restarted without its rule, or silent through a change.

Counts are summed over the edges: the proxy's distinct-cookie count is per edge, so a client
whose requests cross edges (DNS round robin) counts once on each — an upper bound, never too
few, so the old colour is never retired early. An edge that cannot count gives no sum at all
(a sentence naming it): "0 sessions" must mean 0 on every edge before `auto` retires anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions, SessionRouter, keeps_sessions
from console.core.model import COLORS
from console.drivers.proxy.edges.composite import READ_BOUND_SECONDS, EdgeSet
from console.drivers.proxy.edges.edge import Edge
from console.drivers.proxy.edges.fan_out import Done, fan_out
from console.drivers.proxy.edges.report import failed_text, rule_text

# What `kept_sessions` reads when the edges hold different rules: a rule no migration can ask
# for (a cookie value never holds a NUL), so the session watch re-applies the wanted one.
DIFFERING = KeptSessions("blue", "\x00the edges differ", "green")


def edge_set(edges: Sequence[Edge], verify_timeout_seconds: float) -> EdgeSet:
    """The composite over `edges`: one that keeps sessions when every edge's driver can."""
    if all(keeps_sessions(edge.driver) is not None for edge in edges):
        return SessionEdgeSet(edges, verify_timeout_seconds)
    return EdgeSet(edges, verify_timeout_seconds)


def _router(edge: Edge) -> SessionRouter:
    router = keeps_sessions(edge.driver)
    assert router is not None  # SessionEdgeSet is built only over edges that keep sessions
    return router


class SessionEdgeSet(EdgeSet):
    """`EdgeSet` and `SessionRouter`: the sessions rule on every edge or on none."""

    def set_sessions(self, kept: KeptSessions | None) -> None:
        what = f"sessions rule ({kept.describe()})" if kept else "end of the kept sessions"
        self._answering_all(what)  # a silent edge refuses it: nothing is sent anywhere
        before = {d.edge.name: d for d in self._rules()}
        done = fan_out(
            self.edges,
            lambda edge: _router(edge).set_sessions(kept),
            self.change_bound,
            self._silent,
        )
        failures = [d for d in done if not d.ok]
        if not failures:
            failures = [
                Done(r.edge, error=f"read back after its change, it keeps {_rule(r.value)}")
                for r in self._rules()
                if r.value != kept
            ]
        if not failures:
            return
        fan_out(
            self.edges,
            lambda edge: _router(edge).set_sessions(before[edge.name].value),
            self.change_bound,
            self._silent,
        )
        after = self._rules()
        raise ProxyError(
            f"{failed_text(f'change of the {what}', failures)} Every edge was put back to the "
            f"rule it had, and read back: {rule_text(after)}. The agent re-applies the rule the "
            "store records to each edge that differs; nothing else was changed.",
            read_back=self.read_back(),
        )

    def kept_sessions(self) -> KeptSessions | None:
        rules = {r.value for r in self._rules()}
        return rules.pop() if len(rules) == 1 else DIFFERING

    def sessions_seen(self) -> dict[str, int] | None:
        done = fan_out(self.edges, lambda edge: _router(edge).sessions_seen(), READ_BOUND_SECONDS)
        if all(d.ok and d.value is None for d in done):
            return None  # no edge counts: the application does ([sessions.source])
        missing = [
            d if not d.ok else Done(d.edge, error="it did not answer")
            for d in done
            if not d.ok or d.value is None
        ]
        if missing:
            raise ProxyError(
                f"{failed_text('count of sessions', missing)} The count is the sum over every "
                "edge, so there is none until it answers (nothing is retired meanwhile)."
            )
        return {c: sum((d.value or {}).get(c, 0) for d in done) for c in COLORS}

    def _rules(self) -> list[Done[KeptSessions | None]]:
        """Each edge's rule as read now (an edge that did not answer reads as none)."""
        done = fan_out(self.edges, lambda edge: _router(edge).kept_sessions(), READ_BOUND_SECONDS)
        return [d if d.ok else Done(d.edge, value=None) for d in done]


def _rule(kept: KeptSessions | None) -> str:
    return f"'{kept.describe()}'" if kept else "no rule"
