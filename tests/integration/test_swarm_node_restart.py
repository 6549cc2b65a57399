"""Issue 25.4 on the real three-node Swarm: a worker node killed (its engine, containerd, shims
and containers SIGKILLed: the host dies at once) for a short outage, and during a switch.

- **A short outage mid-warm-up**: the engine is back within the manager's heartbeat grace
  (down 5 s), so the node is never marked Down; it registers again and reports its task
  failed (exit 255).
  That task died with its node, not by itself: the colour is never failed (no restart counted),
  status says the replica on that node was lost and is being rescheduled, the event names the
  node, and the gate is earned again by the new task there.
- **During a switch, under load through nginx (live mode, the colours' replicas as peers)**: a
  node of the colour being switched to dies as the switch is made. No request fails (nginx moves
  a request that cannot connect, or whose connection is reset, to the next replica) and, at the
  agent's next reading, the proxy's list no longer names the dead task.
Every reading is checked as it is taken (swarm_outages.Colour.tick)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from console.agent.replica_watch import routed_peers
from console.core.config.proxy import NginxProxyConfig
from console.core.model import SlotStatus
from console.drivers.proxy import make_proxy
from console.drivers.proxy.nginx.live import NginxLiveDriver
from console.drivers.swarm.runtime import SwarmRuntime
from console.sandbox.nginx_proc import NginxProcess
from console.sandbox.swarm import SwarmBed, client, kill_engine, start_engine, wait_answering
from tests import ports
from tests.integration.swarm_outages import Colour, mend, outage_config, summary
from tests.integration.swarm_world import wait_for, web_spec

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SHORT_PORTS = (ports.SWARM_NODE_RESTART[0], ports.SWARM_NODE_RESTART[1])
SWITCH_PORTS = (ports.SWARM_NODE_RESTART[2], ports.SWARM_NODE_RESTART[3])
LISTEN, ADMIN = ports.SWARM_NODE_RESTART[4], ports.SWARM_NODE_RESTART[5]
BLIP_SECONDS = 5.0  # the engine's outage: well within the manager's ~13 s (FACTS.md)


def test_a_node_back_within_the_heartbeat_is_an_outage_not_a_failed_colour(
    swarm_bed: SwarmBed, tmp_path: Path
) -> None:
    bed = swarm_bed
    victim = bed.workers[-1]
    colour = Colour(outage_config(bed, tmp_path, "swnr", SHORT_PORTS))
    try:
        wait_for("a task on the victim", lambda: colour.running_on(victim.name), 60, 0.1)
        colour.tick()
        before = colour.task_on(victim.name)
        kill_engine(victim.name, victim.directory)
        time.sleep(BLIP_SECONDS)  # a dockerd started at once over its killed one did not answer
        start_engine(victim.name, victim.directory)  # back within the grace: never Down
        wait_answering(victim.name, Path(victim.socket), 60)
        outage = f"node {victim.name}'s engine restarted"
        try:
            wait_for("green ready again", lambda: colour.tick().ready, 120)
            # The old task, reported failed once the node was back, died with its node: said so
            # in the event (naming the node), and shown so in status' task list.
            lost = (
                f"green: the replica on {victim.name} is lost ({outage}; it is being rescheduled)."
            )
            assert lost in colour.events(), colour.events()
            shown = colour.seen[-1].replicas
            assert shown is not None
            old = next(t for t in shown.tasks if t.id == before)
            assert old.outage == outage and not old.counted, old
            assert colour.task_on(victim.name) not in (None, before)  # a new task there
        except (AssertionError, StopIteration) as exc:
            raise AssertionError(f"{exc!r}; {diagnosis(bed, colour)}") from None
        # While it was being rescheduled (the old task failed, none counting on the node yet),
        # every reading said so in status and in the replicas condition, naming the node.
        rescheduling = [s for s in colour.seen if _lost_and_not_replaced(s, before, victim.name)]
        said = f"the replica on {victim.name} was lost ({outage}), rescheduling"
        for status in rescheduling:
            assert said in summary(status) and not status.ready, summary(status)
            replicas = next(c for c in status.conditions if c.name == "replicas")
            assert said in replicas.detail, replicas
        assert all(s.restart_count == 0 for s in colour.seen)  # also checked on each tick
    finally:
        mend(bed)
        colour.close()


def _lost_and_not_replaced(status: SlotStatus, task_id: str | None, node: str) -> bool:
    tasks = status.replicas.tasks if status.replicas is not None else ()
    failed = any(t.id == task_id and t.state == "failed" for t in tasks)
    return failed and not any(t.counted and t.node == node for t in tasks)


def diagnosis(bed: SwarmBed, colour: Colour) -> str:
    """What the scheduler and the runtime's memory said, for a failure's message."""
    manager = client(bed.manager)
    try:
        versions = {
            n["Description"]["Hostname"]: n["Version"]["Index"] for n in manager.api.nodes()
        }
    finally:
        manager.close()
    replicas = colour.runtime.replicas(colour.config.slots["green"].container)
    tasks = [
        (t.id[:8], t.node, t.state, t.desired, t.error, t.outage)
        for t in (replicas.tasks if replicas else ())
    ]
    memory = colour.runtime._outages
    return (
        f"summary: {summary(colour.seen[-1])}; tasks: {tasks}; node versions: {versions}; "
        f"first seen: {memory._first_running}; lost: {dict(memory.lost)}"
    )


class Load:
    """GETs through the edge, one keep-alive client per thread, until stopped."""

    def __init__(self, threads: int = 4) -> None:
        self.outcomes: Counter[str] = Counter()
        self.after_switch: Counter[str] = Counter()  # the colour that answered, once switched
        self.switched = threading.Event()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(trust_env=False, timeout=30) as client:
            while not self._stop.is_set():
                switched = self.switched.is_set()
                try:
                    response = client.get(f"http://127.0.0.1:{LISTEN}/")
                    outcome = str(response.status_code)
                    if switched and response.status_code == 200:
                        self.after_switch[response.headers.get("X-Bluegreen-Color", "?")] += 1
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.outcomes[outcome] += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(40)


def test_a_node_killed_during_a_switch_fails_no_request_and_leaves_the_proxy_s_list(
    swarm_bed: SwarmBed, tmp_path: Path
) -> None:
    bed = swarm_bed
    victim = bed.workers[0]
    config = outage_config(bed, tmp_path, "swns", SWITCH_PORTS)
    blue = SwarmRuntime(config.runtime.docker_host, config.swarm)
    blue.remove(config.slots["blue"].container)
    blue.start(web_spec(config, "blue", "v1"))
    green = Colour(config)
    proc = NginxProcess(tmp_path / "nginx", LISTEN, ADMIN, tmp_path / "nginx" / "bluegreen")
    try:
        wait_for("green ready", lambda: green.tick().ready, 120)
        blue_endpoints = wait_for(
            "blue's three replicas",
            lambda: (
                len(r.counting) == 3 and [t.endpoint for t in r.counting]
                if (r := blue.replicas(config.slots["blue"].container))
                else None
            ),
            60,
        )
        assert isinstance(blue_endpoints, list)
        proc.write_main_conf()
        edge = make_proxy(
            replace(
                config,
                proxy=NginxProxyConfig(
                    mode="live",
                    include_dir=str(proc.include_dir),
                    proxy_url=f"http://127.0.0.1:{LISTEN}",
                    admin_socket=str(tmp_path / "admin.sock"),
                    test_command=proc.test_command(),
                    reload_command=proc.reload_command(),
                    verify_timeout_seconds=10.0,
                ),
            )
        )
        assert isinstance(edge, NginxLiveDriver)
        edge.write_files("blue")
        proc.start()
        edge.install("blue")
        edge.set_peers("blue", blue_endpoints)
        edge.set_peers("green", routed_peers(green.seen[-1]))
        wait_for("blue through the edge", lambda: _answers(), 30, 0.1)
        dead = f"{victim.address}:{SWITCH_PORTS[1]}"
        assert dead in routed_peers(green.seen[-1])

        with Load() as load:
            time.sleep(1.0)  # every client connected and kept alive
            killer = threading.Thread(target=kill_engine, args=(victim.name, victim.directory))
            killer.start()
            edge.switch("green")
            load.switched.set()
            killer.join(30)
            # The agent's next readings: green's list leaves the dead task out.
            peers: list[str] = []

            def routed_without_the_dead_task() -> bool:
                peers[:] = routed_peers(green.tick())
                edge.set_peers("green", peers)
                return bool(peers) and dead not in peers

            wait_for("the dead task out of green's list", routed_without_the_dead_task, 30)
            time.sleep(1.0)  # traffic on the remaining replicas
        assert sum(load.outcomes.values()) > 100, load.outcomes
        assert set(load.outcomes) == {"200"}, load.outcomes  # no request failed
        assert set(load.after_switch) == {"green"}, load.after_switch
        assert not green.seen[-1].ready  # two of three answer: not ready, and said
        assert f"replica on {victim.name}" in " ".join(
            c.detail for c in green.seen[-1].conditions if not c.met
        ), green.seen[-1].conditions
    finally:
        proc.stop()
        mend(bed)
        green.close()
        blue.remove(config.slots["blue"].container)


def _answers() -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{LISTEN}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
