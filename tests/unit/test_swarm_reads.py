"""A Swarm colour's service, tasks and nodes are read ONCE per agent tick (issue 25): the Docker
sampler reads them together (`SwarmRuntime.inspect_replicas`), and the replica checks and the
per-task progress take the replica set it read, never asking the manager again. Counted on the
fake SDK's calls, with real HTTP checks and heights against three loopback "tasks"."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from console.agent.samplers import sample_round
from console.agent.slot_watch import SlotWatch
from console.core.config.load import parse_config
from console.core.redact import Redactor
from console.drivers.swarm.runtime import SwarmRuntime
from tests.unit.loopback_http import Loopback, loopback_server
from tests.unit.swarm_fake import THREE_NODES, FakeApi, FakeClient, service, task

CONFIG = """
service = "svc"
[image]
repository = "svc"
[runtime]
kind = "swarm"
docker_host = "unix:///fake/manager.sock"
[swarm]
replicas = 3
addresses = { mgr = "127.0.0.1", w1 = "127.0.0.1", w2 = "127.0.0.1" }
[slots.blue]
container = "svc-blue"
host_port = 29751
[slots.green]
container = "web-green"
host_port = 29752
[candidate]
kind = "http"
url = "http://127.0.0.1:{host_port}/height"
field = "h"
head_field = "head"
[readiness]
health_path = "/ready"
health_expect = "ready"
log_pattern = "caught up"  # its lines read one by one: the colour's logs are followed
smoke_path = ""
[resources]
stats = false  # per task on its node's engine ([swarm] engines), opened once, not per tick
"""


class CountingApi(FakeApi):
    """The fake SDK, counting each engine call by name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: Counter[str] = Counter()

    def inspect_service(self, name: str) -> dict[str, Any]:
        self.calls["inspect_service"] += 1
        return super().inspect_service(name)

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        self.calls["tasks"] += 1
        return super().tasks(filters)

    def nodes(self) -> list[dict[str, Any]]:
        self.calls["nodes"] += 1
        return super().nodes()


@pytest.fixture
def three() -> Iterator[list[Loopback]]:
    with ExitStack() as stack:
        servers = [stack.enter_context(loopback_server()) for _ in range(3)]
        for server, height in zip(servers, (120, 97, 118), strict=True):
            server.text("/ready", "ready")
            server.json("/height", {"h": height, "head": 130})
        yield servers


def test_one_tick_reads_the_service_its_tasks_and_the_nodes_once(three: list[Loopback]) -> None:
    api = CountingApi(node_list=copy.deepcopy(THREE_NODES))
    api.by_name["web-green"] = service("svc1", "web-green", 3)
    api.tasks_of["svc1"] = [
        task(f"t{i}", node_id, port=server.port)
        for i, (node_id, server) in enumerate(zip(("n1", "n2", "n3"), three, strict=True))
    ]
    config = parse_config(CONFIG)
    runtime = SwarmRuntime(config.runtime.docker_host, config.swarm)
    runtime._connect = lambda timeout: FakeClient(api)  # type: ignore[method-assign]
    watch = SlotWatch(config, "green", lambda: runtime, Redactor())
    try:
        sample_round([watch.docker], budget_seconds=10.0)
        watch.observe(time.time(), None, "blue", None, None)  # the colour seen: its logs followed
        api.calls.clear()
        ticks = 3
        for _ in range(ticks):
            time.sleep(0.6)  # the log follower polls the manager once a second meanwhile
            sample_round(watch.samplers(), budget_seconds=10.0)
            status = watch.observe(time.time(), None, "blue", None, None)
        # Each tick asked every task for its health and its height, where it answers ...
        for server in three:
            paths = [r.path for r in server.received]
            assert paths.count("/ready") == ticks and paths.count("/height") == ticks, paths
        assert status.replicas is not None and status.replicas.healthy == 3
        assert status.height == 97  # the slowest replica's
        # ... and the manager once: the service, its tasks, the nodes (it was twice: once for
        # the replicas, once for the colour as a container; and the log follower inspected the
        # service again on each quiet poll). Its polls ask for the logs only.
        assert api.log_calls
        assert api.calls == {"inspect_service": ticks, "tasks": ticks, "nodes": ticks}
    finally:
        watch.close()
