"""`EdgeSet`: several edge proxies as one `ProxyDriver`, changed all or none.

Every change follows the same steps: read every edge back (one that does not answer refuses the
change: nothing is sent anywhere); write the intent to the journal (the store) before any edge is
touched; change every edge in parallel, each within its bound (fan_out.py), each through its own
driver, which verifies through that edge; and on any failure put every edge back to how it was
read before, read each back again, record that as the intent, and raise one paragraph naming the
failed host and each edge's state (report.py). An edge that stays silent through the put-back is
converged by the agent once it answers (`converge`, console/core/ops/edges.py).

Switch, rollback (a switch), canary weight, maintenance, install and the files go through here;
reads (`read_back`, `persisted`, traffic) combine the edges' own. The read-back names a colour
only when every edge that answers agrees; edges that differ read as unanswered (no one colour
can be named, as HAProxy's driver says of two ready servers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from console.core.contracts.edges import EdgeIntent, EdgeReading, IntentJournal, agreement
from console.core.contracts.proxy import (
    UNANSWERED,
    PeerRouting,
    ProxyError,
    ReadBack,
    SwitchResult,
)
from console.core.holds import MaintenancePage
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import Canary, Color
from console.core.timeouts import PROXY_ADMIN_SECONDS, PROXY_READ_BACK_SECONDS
from console.drivers.proxy.edges.edge import Edge
from console.drivers.proxy.edges.fan_out import Done, fan_out
from console.drivers.proxy.edges.report import (
    failed_text,
    peers_failed_text,
    put_back_text,
    silent_text,
)
from console.drivers.proxy.edges.traffic import merged
from console.drivers.proxy.maintenance import persisted_page

T = TypeVar("T")
# A read-back may ask the admin endpoint, then the proxy itself (nginx live), each bounded.
READ_BOUND_SECONDS = 2 * PROXY_READ_BACK_SECONDS + 0.5
# A replica list: HAProxy reads its slots, sends one line and reads them back (nginx: one call).
PEERS_BOUND_SECONDS = PROXY_ADMIN_SECONDS + 2 * PROXY_READ_BACK_SECONDS + 1.0


class MemoryJournal:
    """The intent kept in memory: an EdgeSet used without a store (benchmarks, unit tests)."""

    def __init__(self) -> None:
        self.intent: EdgeIntent | None = None

    def record(self, intent: EdgeIntent) -> None:
        self.intent = intent

    def recorded(self) -> EdgeIntent | None:
        return self.intent


class EdgeSet:
    """`ProxyDriver` (and `EdgeProxies`) over every edge of the installation."""

    def __init__(self, edges: Sequence[Edge], verify_timeout_seconds: float) -> None:
        self.edges = list(edges)
        kinds = dict.fromkeys(edge.driver.name for edge in self.edges)  # in order, once each
        self.name = f"{len(self.edges)} edge proxies, {' and '.join(kinds)}"
        self.journal: IntentJournal = MemoryJournal()
        # One edge's switch: the admin call (and, after a timeout, its expiry and a read-back),
        # then the verification through that edge.
        self.change_bound = (
            PROXY_ADMIN_SECONDS + 2 * PROXY_READ_BACK_SECONDS + verify_timeout_seconds + 1.0
        )

    # ── the intent and each edge (EdgeProxies) ──────────────────────────────────────────────────

    def keep_intent_in(self, journal: IntentJournal) -> None:
        self.journal = journal

    def edge_readings(self) -> tuple[EdgeReading, ...]:
        return self._readings_of(self.edges)

    def converge(self) -> list[str]:
        intent = self.journal.recorded()
        if intent is None:
            return []
        readings = {r.name: r for r in self.edge_readings()}
        differing = [
            edge
            for edge in self.edges
            if readings[edge.name].seen.answered and not intent.met_by(readings[edge.name].seen)
        ]
        if not differing:
            return []
        done = fan_out(
            differing,
            lambda edge: self._apply(edge, readings[edge.name].seen, intent),
            self.change_bound,
        )
        after = {r.name: r for r in self._readings_of(differing)}
        sentences = []
        for outcome in done:
            was = readings[outcome.edge.name].describe()
            now = after[outcome.edge.name]
            if outcome.ok and intent.met_by(now.seen):
                sentences.append(
                    f"{was}, not the recorded intent ({intent.what or intent.describe()}): "
                    f"converged, it {intent.describe()} now (read back)."
                )
            else:
                sentences.append(
                    f"{was}, not the recorded intent ({intent.describe()}), and re-applying it "
                    f"failed: {outcome.error or now.describe()}"
                )
        return sentences

    # ── changes, all or none ────────────────────────────────────────────────────────────────────

    def switch(self, to: Color) -> SwitchResult:
        before = self._answering_all(f"switch to {to}")
        back = self._back_to(before)
        self.journal.record(EdgeIntent(to, None, f"switch to {to}", time.time()))
        done = fan_out(
            self.edges, lambda edge: edge.driver.switch(to), self.change_bound, self._silent
        )
        intent = EdgeIntent(to, None, f"switch to {to}")
        failures = [d for d in done if not d.ok] or self._not_as(intent, done)
        if failures:
            self._put_back(f"switch to {to}", failures, back)
        results = [d.value for d in done if d.value is not None]
        cutover = max(r.cutover_ms for r in results)
        detail = f"all {len(results)} edges route to {to}, each read back; {results[0].detail}"
        return SwitchResult(to, cutover, all(r.verified for r in results), detail)

    def set_canary(self, canary: Canary | None) -> None:
        what = f"canary ({canary.describe()})" if canary else "end of the canary"
        before = self._answering_all(what)
        back = self._back_to(before)
        self.journal.record(EdgeIntent(back.color, canary, what, time.time()))
        done = fan_out(
            self.edges, lambda edge: edge.driver.set_canary(canary), self.change_bound, self._silent
        )
        intent = EdgeIntent(back.color, canary, what)
        failures = [d for d in done if not d.ok] or self._not_as(intent, done)
        if failures:
            self._put_back(what, failures, back)

    def set_maintenance(self, page: MaintenancePage | None) -> None:
        what = "maintenance page" if page else "end of maintenance"
        self._answering_all(what)
        pages = {edge.name: persisted_page(Path(edge.include_dir)) for edge in self.edges}
        done = fan_out(
            self.edges, lambda edge: edge.driver.set_maintenance(page), self.change_bound
        )
        failures = [d for d in done if not d.ok]
        if not failures:
            return
        # Put back the page each edge had (no intent: maintenance is the store's hold record).
        fan_out(
            self.edges,
            lambda edge: edge.driver.set_maintenance(pages[edge.name]),
            self.change_bound,
        )
        raise ProxyError(
            f"{failed_text(what, failures)} Every edge was put back to its page as before; "
            "retry once the failed host is fixed.",
            read_back=self.read_back(),
        )

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        canary = canary if live is not None else None
        self.journal.record(EdgeIntent(live, canary, "install", time.time()))
        self._on_every("install", lambda edge: edge.driver.install(live, canary))

    def write_files(self, live: Color | None, canary: Canary | None = None) -> tuple[str, ...]:
        done = self._on_every("file update", lambda edge: edge.driver.write_files(live, canary))
        return tuple(path for d in done for path in (d.value or ()))

    def set_peers(self, color: Color, peers: list[str]) -> None:
        """`PeerRouting` over the edges: the list goes to every edge in parallel, each within
        `PEERS_BOUND_SECONDS`, so one edge that fails or hangs never keeps it from the others.
        Not all or none: each edge routes only to the replicas it is given, and an edge with an
        older list still routes to tasks that answered a moment ago. ProxyError names each edge
        that did not take it; the replica watch sends the list again on its next tick."""
        done = fan_out(
            self.edges, lambda edge: _peers_of(edge).set_peers(color, peers), PEERS_BOUND_SECONDS
        )
        failures = [d for d in done if not d.ok]
        if failures:
            raise ProxyError(peers_failed_text(color, failures, len(done)))

    # ── reads ───────────────────────────────────────────────────────────────────────────────────

    def read_back(self) -> ReadBack:
        return agreement(self.edge_readings()) or UNANSWERED

    def current(self) -> Color | None:
        return self.read_back().color

    def persisted(self) -> Color | None:
        values = {edge.driver.persisted() for edge in self.edges}
        return values.pop() if len(values) == 1 else None

    def persisted_canary(self) -> Canary | None:
        values = {edge.driver.persisted_canary() for edge in self.edges}
        return values.pop() if len(values) == 1 else None

    def traffic(self) -> TrafficSnapshot | None:
        done = fan_out(self.edges, lambda edge: edge.driver.traffic(), READ_BOUND_SECONDS)
        if any(d.ok and d.value is None for d in done):
            return None  # an edge that cannot count: no sum would be the clients' traffic
        snapshots = [d.value for d in done if d.value is not None]
        if not snapshots:
            raise ProxyError(f"No edge gave its traffic counters: {failed_text('read', done)}")
        return merged(snapshots)

    def check(self) -> list[str]:
        done = fan_out(self.edges, lambda edge: edge.driver.check(), self.change_bound)
        problems = [f"{d.edge.label}: {p}" for d in done for p in (d.value or [])]
        return problems + [f"{d.edge.label}: {d.error}" for d in done if not d.ok]

    def snippet(self) -> str:
        return self._per_edge(lambda edge: edge.driver.snippet())

    def install_steps(self) -> str:
        return self._per_edge(lambda edge: edge.driver.install_steps())

    # ── the steps ───────────────────────────────────────────────────────────────────────────────

    def _answering_all(self, what: str) -> dict[str, ReadBack]:
        """Every edge's routing before a change; ProxyError (nothing sent) if one is silent."""
        readings = self.edge_readings()
        silent = [r for r in readings if not r.seen.answered]
        if silent:
            raise ProxyError(
                silent_text(what, silent, len(readings)),
                read_back=agreement(readings) or UNANSWERED,
            )
        return {r.name: r.seen for r in readings}

    def _back_to(self, before: dict[str, ReadBack]) -> EdgeIntent:
        """What a failed change puts back: the edges' common routing, else the recorded intent
        (edges that differed already are converged to it), else the default edge's."""
        common = agreement(tuple(EdgeReading(n, "", seen) for n, seen in before.items()))
        if common is None:
            common = self._recorded_as_read_back() or before[self.edges[0].name]
        color = common.color
        return EdgeIntent(color, common.canary, f"put back to {color or 'nothing'}", time.time())

    def _recorded_as_read_back(self) -> ReadBack | None:
        intent = self.journal.recorded()
        return ReadBack(True, intent.color, intent.canary) if intent else None

    def _put_back(
        self,
        what: str,
        failures: list[Done[T]],
        back: EdgeIntent,
    ) -> NoReturn:
        self.journal.record(back)
        fan_out(
            self.edges, lambda edge: self._apply(edge, None, back), self.change_bound, self._silent
        )
        after = self.edge_readings()
        raise ProxyError(
            put_back_text(what, failures, back, after),
            read_back=agreement(after) or UNANSWERED,
        )

    def _apply(self, edge: Edge, seen: ReadBack | None, intent: EdgeIntent) -> None:
        """Make one edge route as `intent` says, from what it was read to do (None: read now)."""
        driver = edge.driver
        seen = seen if seen is not None else driver.read_back()
        if intent.met_by(seen):
            return
        if intent.color is None:
            driver.install(None)
            return
        if seen.color != intent.color or not seen.answered:
            driver.switch(intent.color)  # verified through the edge; ends any canary there
            seen = ReadBack(True, intent.color, None)
        if seen.canary != intent.canary:
            driver.set_canary(intent.canary)

    def _not_as(self, intent: EdgeIntent, done: list[Done[T]]) -> list[Done[T]]:
        """Every edge read back after a change that each reported done: those not as `intent`
        (something moved one meanwhile), as failures."""
        readings = self.edge_readings()
        return [
            Done(d.edge, error=f"read back after its change, {r.seen.describe()}")
            for d, r in zip(done, readings, strict=True)
            if not intent.met_by(r.seen)
        ]

    @staticmethod
    def _silent(edge: Edge) -> bool:
        """Whether an edge still changing has stopped answering (killed, hung, cut off)."""
        return not edge.driver.read_back().answered

    def _readings_of(self, edges: Sequence[Edge]) -> tuple[EdgeReading, ...]:
        done = fan_out(edges, lambda edge: edge.driver.read_back(), READ_BOUND_SECONDS)
        return tuple(
            EdgeReading(d.edge.name, d.edge.host, d.value if d.value is not None else UNANSWERED)
            for d in done
        )

    def _on_every(self, what: str, call: Callable[[Edge], T]) -> list[Done[T]]:
        done = fan_out(self.edges, call, self.change_bound)
        failures = [d for d in done if not d.ok]
        if failures:
            raise ProxyError(
                f"{failed_text(what, failures)} The other edges have it; run it again once the "
                "failed host answers.",
                read_back=self.read_back(),
            )
        return done

    def _per_edge(self, text: Callable[[Edge], str]) -> str:
        return "\n".join(
            f"# ─── {edge.label}: these lines in that proxy's own configuration ───\n{text(edge)}"
            for edge in self.edges
        )


def _peers_of(edge: Edge) -> PeerRouting:
    """The edge's driver as a `PeerRouting`; ProxyError (a sentence) for one that routes each
    colour to one address (`config check` refuses that kind of edge in front of a Swarm)."""
    if isinstance(edge.driver, PeerRouting):
        return edge.driver
    raise ProxyError(
        f"{edge.driver.name} routes each colour to one address, not to a Swarm's replicas: "
        "make this edge nginx in live mode or HAProxy"
    )
