"""Issue 25.4 on the real three-node Swarm: a worker's LINK goes down (its veth on the bed's
bridge: the host vanishes without closing a connection; its engine and containers keep running,
unreachable) — during a colour's warm-up, and once the colour is ready, just before a switch.

The manager needs ~15 s to mark such a node Down (FACTS.md); until then it still lists the task
"running" on a Ready node. Meanwhile status must not lie: the colour is not ready, the node is
named, and the proxy's list (routed_peers, what the agent sends nginx) leaves the task out while
another answers. Once the node is Down, its replica is lost (said, naming the node); once the link
is back, a new task runs there and the gate is earned again. A link down for a few seconds only
(never Down at the manager) costs readiness while it lasts, and nothing is rescheduled or failed.
Every reading is checked as it is taken (swarm_outages.Colour.tick)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.agent.replica_watch import routed_peers
from console.sandbox.swarm import SwarmBed, set_link
from tests import ports
from tests.integration.swarm_outages import Colour, mend, outage_config, summary
from tests.integration.swarm_world import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PORTS = (ports.SWARM_LINK_DOWN[0], ports.SWARM_LINK_DOWN[1])


def test_a_worker_cut_off_mid_warm_up_and_just_before_a_switch_never_counts_as_ready(
    swarm_bed: SwarmBed, tmp_path: Path
) -> None:
    bed = swarm_bed
    victim, other = bed.workers[-1], bed.workers[0]
    colour = Colour(outage_config(bed, tmp_path, "swld", PORTS))
    try:
        # 1. Mid-warm-up: the victim's task runs (and answers 503 on its ready path) when its
        #    node's link goes down.
        wait_for("a task on the victim", lambda: colour.running_on(victim.name), 60, 0.1)
        set_link(victim.name, False)
        wait_for(
            f"the manager marking {victim.name} down",
            lambda: f"node {victim.name} is down" in summary(colour.tick()),
            90,
        )
        down = colour.seen[-1]
        replicas = next(c for c in down.conditions if c.name == "replicas")
        assert not replicas.met and f"node {victim.name} is down" in replicas.detail, replicas
        assert not any(s.ready for s in colour.seen)
        set_link(victim.name, True)
        wait_for("green ready again", lambda: colour.tick().ready, 120)
        events = colour.events()
        assert f"green: the replica on {victim.name} is lost (node {victim.name} is down)." in (
            events
        ), events
        assert any(
            e.startswith(f"green: a new replica runs on {victim.name}")
            and e.endswith(f"rescheduled after the one on {victim.name} was lost.")
            for e in events
        ), events

        # 2. Just before a switch: ready, then the other worker's link goes down for a few
        #    seconds. Its task stops counting as healthy at once, while the manager still has
        #    the node Ready and the task running; the proxy's list leaves it out.
        before = colour.task_on(other.name)
        assert before is not None
        set_link(other.name, False)
        cut = wait_for("green not ready", lambda: not (s := colour.tick()).ready and s, 30)
        assert cut and colour.seen[-1].replicas is not None
        shown = colour.seen[-1].replicas
        task = next(t for t in shown.tasks if t.id == before)
        assert task.node_up and task.counted and task.healthy is False, task  # not the manager
        assert task.endpoint not in routed_peers(colour.seen[-1])
        unmet = " ".join(c.detail for c in colour.seen[-1].conditions if not c.met)
        assert f"replica on {other.name}" in unmet, colour.seen[-1].conditions  # named
        set_link(other.name, True)
        wait_for("green ready again", lambda: colour.tick().ready, 60)
        assert colour.task_on(other.name) == before  # back, not rescheduled: nothing failed
    finally:
        mend(bed)
        colour.close()
