"""What the node-outage tests (test_swarm_link_down, test_swarm_node_restart) share: one colour
of three replicas on the session's Swarm bed, read tick by tick by the agent's own parts — its
SlotWatch (status, the gate) and its ReplicaWatch's peer choice and events, into a real store —
with every reading checked for a lie as it is taken."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import httpx

from console.agent.replica_watch import ReplicaWatch, routed_peers
from console.agent.samplers import sample_round
from console.agent.slot_watch import SlotWatch
from console.core.config.schema import Config
from console.core.model import SlotState, SlotStatus
from console.core.redact import Redactor
from console.core.store.store import Store
from console.drivers.swarm.runtime import SwarmRuntime
from console.sandbox.swarm import SwarmBed, set_link, start_engine, wait_answering
from tests.integration.swarm_world import swarm_config, web_spec


def answers_ready(endpoint: str) -> bool:
    try:
        return httpx.get(f"http://{endpoint}/api/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def outage_config(bed: SwarmBed, tmp: Path, prefix: str, ports: tuple[int, int]) -> Config:
    """swarm_config with this module's own service names (other modules share the bed)."""
    config = swarm_config(bed, tmp, ports)
    slots = {c: replace(s, container=f"{prefix}-{c}") for c, s in config.slots.items()}
    return replace(config, slots=slots)


class Colour:
    """Green, read as the agent reads it; `tick()` asserts no reading lies: never failed, never
    ready unless three tasks on three nodes count and each answers ready when asked right then,
    and the proxy's list never names a task that failed its checks while another passes."""

    def __init__(self, config: Config, version: str = "v2") -> None:
        self.config = config
        self.runtime = SwarmRuntime(config.runtime.docker_host, config.swarm)
        self.runtime.remove(config.slots["green"].container)
        self.runtime.start(web_spec(config, "green", version))
        self.watch = SlotWatch(config, "green", lambda: self.runtime, Redactor())
        self.store = Store.open(config.state_dir)
        self.replica_watch = ReplicaWatch(lambda: None, self.store, "agent", lambda line: None)  # type: ignore[arg-type,return-value]
        self.seen: list[SlotStatus] = []

    def tick(self) -> SlotStatus:
        sample_round(self.watch.samplers(), budget_seconds=10.0)
        status = self.watch.observe(time.time(), None, "blue", None, None)
        assert status.state != SlotState.FAILED, status.reason
        assert status.restart_count == 0, status
        assert status.replicas is not None
        counted = [t for t in status.replicas.tasks if t.counted]
        if status.ready:
            assert len(counted) == 3 and len({t.node for t in counted}) == 3, counted
            assert all(t.healthy for t in counted), counted
            assert all(answers_ready(t.endpoint) for t in counted), counted
        if any(t.healthy for t in counted):  # traffic only to the replicas that answer
            failing = {t.endpoint for t in counted if t.healthy is not True}
            assert not failing & set(routed_peers(status)), status.replicas
        self.replica_watch._record_changes(status)
        self.seen.append(status)
        return status

    def task_on(self, node: str) -> str | None:
        """The id of the task counted on `node` in the last reading."""
        last = self.seen[-1].replicas if self.seen else None
        tasks = last.tasks if last is not None else ()
        return next((t.id for t in tasks if t.counted and t.node == node), None)

    def running_on(self, node: str) -> bool:
        replicas = self.runtime.replicas(self.config.slots["green"].container)
        return bool(replicas and any(t.node == node for t in replicas.counting))

    def events(self) -> list[str]:
        return [e.text for e in self.store.events() if e.kind == "replica"]

    def close(self) -> None:
        self.watch.close()
        self.runtime.remove(self.config.slots["green"].container)
        self.store.close()


def summary(status: SlotStatus) -> str:
    return status.replicas.summary() if status.replicas is not None else ""


def mend(bed: SwarmBed) -> None:
    """Every link up and every engine answering: the session's bed is shared."""
    for node in bed.nodes:
        set_link(node.name, True)
        try:
            wait_answering(node.name, Path(node.socket), 1)
        except Exception:
            start_engine(node.name, node.directory)
            wait_answering(node.name, Path(node.socket), 60)
