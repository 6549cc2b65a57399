"""What the agent does each tick for a colour that runs as several replicas (a Swarm service):
the proxy routes it to the replicas that answer, and the history says when one is lost or a new
one counts, naming the node.

The proxy's list (nginx live mode, drivers/proxy/nginx/peers.py; HAProxy's server slots,
drivers/proxy/haproxy/replicas.py) is the endpoints of the tasks that count and pass their
checks — all counting ones while none passes, so a colour whose checks fail is not routed
nowhere — set when it changes and again every `RESEND_SECONDS` (an nginx restart empties the
shared dict). A proxy that cannot route to replicas is said once. A list the proxy did not take
(several edges: some edge failed or hung) is sent again on the next tick, to every edge, until
all take it; the same failure is logged once, and the list again once every edge has it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from console.core.contracts.proxy import PeerRouting, ProxyDriver, ProxyError
from console.core.model import Color, EventLevel, SlotStatus

if TYPE_CHECKING:
    from console.core.store.store import Store

RESEND_SECONDS = 15.0


def routed_peers(status: SlotStatus) -> list[str]:
    """The endpoints the proxy should send `status`'s colour to; [] = leave its list as it is."""
    if status.replicas is None:
        return []
    counted = [t for t in status.replicas.tasks if t.counted and t.endpoint]
    answering = [t.endpoint for t in counted if t.healthy]
    return sorted(answering or [t.endpoint for t in counted])


class ReplicaWatch:
    def __init__(
        self, proxy: Callable[[], ProxyDriver], store: Store, actor: str, log: Callable[[str], None]
    ) -> None:
        self.proxy = proxy
        self.store = store
        self.actor = actor
        self.log = log
        self._sent: dict[Color, tuple[list[str], float]] = {}
        self._counted: dict[Color, tuple[int | None, dict[str, str]]] = {}
        self._said_unroutable = False
        self._failed: dict[Color, str] = {}  # the last failure logged, until a send succeeds
        self._lost: dict[Color, list[str]] = {}  # nodes whose replica was lost, not yet replaced

    def tick(self, status: SlotStatus, now: float) -> None:
        if status.replicas is None:
            return
        self._route(status, now)
        self._record_changes(status)

    def _route(self, status: SlotStatus, now: float) -> None:
        peers = routed_peers(status)
        if not peers:
            return
        sent, at = self._sent.get(status.color, ([], 0.0))
        if peers == sent and now - at < RESEND_SECONDS:
            return
        proxy = self.proxy()
        if not isinstance(proxy, PeerRouting):
            if not self._said_unroutable:
                self.log(
                    f"{status.color} runs as replicas, but this proxy routes each colour to one "
                    "address: use nginx in live mode or HAProxy in front of a Swarm."
                )
                self._said_unroutable = True
            return
        try:
            proxy.set_peers(status.color, peers)
        except ProxyError as exc:
            # Nothing counts as sent (some edges may hold it, others an older list): the next
            # tick sends it again, whatever the list is by then.
            self._sent.pop(status.color, None)
            if self._failed.get(status.color) != str(exc):
                self.log(str(exc))
            self._failed[status.color] = str(exc)
            return
        self._sent[status.color] = (peers, now)
        recovered = self._failed.pop(status.color, None) is not None
        if peers != sent or recovered:
            self.log(f"{status.color}: the proxy routes to {', '.join(peers)}")

    def _record_changes(self, status: SlotStatus) -> None:
        """An event when a replica stops counting or a new one counts (not for a new
        deployment's first replicas, nor on the agent's first tick)."""
        assert status.replicas is not None
        now_counted = {t.id: t.node for t in status.replicas.tasks if t.counted}
        before = self._counted.get(status.color)
        self._counted[status.color] = (status.deployment_id, now_counted)
        if before is None or before[0] != status.deployment_id:
            self._lost[status.color] = []
            return
        lost = {i: n for i, n in before[1].items() if i not in now_counted}
        new = {i: n for i, n in now_counted.items() if i not in before[1]}
        down = set(status.replicas.down_nodes)
        recently_lost = self._lost.setdefault(status.color, [])
        outages = {t.id: t.outage for t in status.replicas.tasks if t.outage}
        for task_id, node in sorted(lost.items(), key=lambda item: item[1]):
            recently_lost.append(node)
            why = f"node {node} is down" if node in down else "its task stopped"
            if task_id in outages and node not in down:  # a short outage: the node is back
                why = f"{outages[task_id]}; it is being rescheduled"
            self._event(
                status, f"{status.color}: the replica on {node} is lost ({why}).", "warning"
            )
        for task_id, node in sorted(new.items(), key=lambda item: item[1]):
            text = f"{status.color}: a new replica runs on {node} (task {task_id[:12]})"
            if recently_lost:  # it replaces one lost (in this tick or before)
                text += f", rescheduled after the one on {recently_lost.pop(0)} was lost"
            self._event(status, text + ".", "info")

    def _event(self, status: SlotStatus, text: str, level: EventLevel) -> None:
        self.store.record_event(
            "replica",
            text,
            level,
            self.actor,
            status.color,
            status.deployment_id,
        )
