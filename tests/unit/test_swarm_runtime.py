"""The Swarm runtime over a fake of the SDK's service, task and node documents: the service it
asks for, how a colour reads as one container and as its replicas (never a task twice, never one
on a dead node), deploy's stop/remove/start on one service only, and logs polled without repeats."""

from __future__ import annotations

import copy
import threading

import docker.errors
import pytest

from console.core.config.swarm import SwarmConfig, swarm_problems
from console.core.contracts.runtime import (
    ContainerRunning,
    ContainerSpec,
    ReplicatedRuntime,
    replicas_of,
)
from console.drivers.docker.runtime import DockerRuntime
from console.drivers.swarm import logs as swarm_logs
from console.drivers.swarm.model import service_spec
from console.drivers.swarm.runtime import SwarmRuntime
from console.drivers.swarm.stats import merged_frame
from tests.unit.swarm_fake import THREE_NODES, FakeApi, FakeClient, node, service, task

SPEC = ContainerSpec(
    name="web-green",
    image="web:v2",
    command=["serve", "--port", "8080"],
    env={"COLOR": "green"},
    labels={"bluegreen.color": "green"},
    host_port=29751,
    container_port=8080,
    restart_policy="on-failure:3",
    stop_timeout=5,
    nano_cpus=500_000_000,
    mem_limit=256 << 20,
)


def runtime_over(api: FakeApi, swarm: SwarmConfig | None = None) -> SwarmRuntime:
    runtime = SwarmRuntime("unix:///fake/manager.sock", swarm or SwarmConfig(replicas=3))
    runtime._connect = lambda timeout: FakeClient(api)  # type: ignore[method-assign,assignment,return-value]
    return runtime


def cluster(*tasks: dict, replicas: int = 3) -> FakeApi:
    api = FakeApi(node_list=copy.deepcopy(THREE_NODES))
    api.by_name["web-green"] = service("svc1", "web-green", replicas)
    api.tasks_of["svc1"] = list(tasks)
    return api


def test_each_colour_is_a_service_of_replicas_publishing_its_port_on_each_node() -> None:
    swarm = SwarmConfig(replicas=3, constraints=["node.role == worker"], max_per_node=1)
    args = service_spec(SPEC, swarm)
    assert args["name"] == "web-green"
    assert args["mode"] == {"replicated": {"Replicas": 3}}
    # Host mode on every node, no virtual IP: what works without IPVS.
    assert args["endpoint_spec"]["Mode"] == "dnsrr"
    assert args["endpoint_spec"]["Ports"] == [
        {"Protocol": "tcp", "PublishedPort": 29751, "TargetPort": 8080, "PublishMode": "host"}
    ]
    template = args["task_template"]
    assert template["Placement"] == {"Constraints": ["node.role==worker"], "MaxReplicas": 1}
    assert template["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 256 << 20}
    assert template["RestartPolicy"]["Condition"] == "on-failure"
    assert template["RestartPolicy"]["MaxAttempts"] == 3
    container = template["ContainerSpec"]
    assert container["Args"] == ["serve", "--port", "8080"]  # Docker's Cmd is Swarm's Args
    assert container.get("Command") is None  # the image's entrypoint
    assert container["Env"] == ["COLOR=green"]
    assert container["Init"] is True  # python as PID 1 ignores SIGTERM
    assert container["StopGracePeriod"] == 5_000_000_000


def test_a_colour_reads_as_one_container_running_while_meant_to_run() -> None:
    api = cluster(
        task("t1", "n1"),
        task("t2", "n2"),
        task("t0", "n3", state="failed", desired="shutdown", err="task: non-zero exit (1)"),
        task("t3", "n3"),
    )
    info = runtime_over(api).inspect("web-green")
    assert info is not None
    assert (info.name, info.id, info.running, info.state) == ("web-green", "svc1", True, "running")
    assert info.image == "web:v2"  # the digest Swarm pins is not part of the name
    assert info.restart_count == 1  # the failed task
    assert info.error == "task: non-zero exit (1)"
    assert info.labels["bluegreen.version"] == "v2"
    assert runtime_over(api).inspect("web-blue") is None


def test_replicas_count_each_running_task_once_and_never_one_on_a_dead_node() -> None:
    api = cluster(task("t1", "n1"), task("t2", "n2"), task("t3", "n3"))
    runtime = runtime_over(api)
    assert isinstance(runtime, ReplicatedRuntime)
    assert not isinstance(DockerRuntime(), ReplicatedRuntime)  # one container, as before
    replicas = replicas_of(runtime, "web-green")
    assert replicas is not None and replicas.complete
    endpoints = [t.endpoint for t in replicas.counting]
    # The manager reports 0.0.0.0 as its address: its advertised address is used instead.
    assert endpoints == ["10.77.0.2:29751", "10.77.0.3:29751", "10.77.0.4:29751"]

    api.node_list[2] = node("n3", "w2", "10.77.0.4", state="down")  # w2's engine killed
    api.tasks_of["svc1"].append(task("t4", "n2", state="pending", port=0))  # its replacement
    replicas = runtime.replicas("web-green")
    assert replicas is not None and not replicas.complete
    assert [t.node for t in replicas.counting] == ["mgr", "w1"]  # t3 still "running" on w2

    api.tasks_of["svc1"].append(copy.deepcopy(api.tasks_of["svc1"][0]))  # the same task twice
    replicas = runtime.replicas("web-green")
    assert replicas is not None and len(replicas.counting) == 2


def test_an_operator_address_replaces_the_one_a_node_advertised() -> None:
    api = cluster(task("t2", "n2"))
    runtime = runtime_over(api, SwarmConfig(replicas=1, addresses={"w1": "192.0.2.7"}))
    replicas = runtime.replicas("web-green")
    assert replicas is not None and replicas.counting[0].endpoint == "192.0.2.7:29751"


def test_start_never_touches_a_service_meant_to_run_and_replaces_a_scaled_down_one() -> None:
    api = cluster(task("t1", "n1"))
    runtime = runtime_over(api)
    with pytest.raises(ContainerRunning, match="already running"):
        runtime.start(SPEC)
    assert api.created == []

    runtime.stop("web-green")  # scale to nothing, wait until no task runs
    assert api.updates[0]["mode"] == {"replicated": {"Replicas": 0}}
    assert api.updates[0]["fetch_current_spec"] is True  # the rest of the spec as it was
    info = runtime.start(SPEC)
    assert api.removed == ["web-green"] and len(api.created) == 1
    assert info.id != "svc1" and info.running


def test_stop_and_remove_of_a_missing_service_are_fine() -> None:
    api = FakeApi(node_list=THREE_NODES)
    runtime = runtime_over(api)
    runtime.stop("web-blue")
    runtime.remove("web-blue")
    assert api.updates == [] and api.removed == []


def test_followed_logs_skip_the_lines_an_overlapping_poll_returns_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(swarm_logs, "_FOLLOW_POLL_SECONDS", 0.01)
    api = cluster(task("t1", "n1"))
    api.log_batches = [
        b"2026-12-06T23:00:01.000000000Z one\n2026-12-06T23:00:02.000000000Z two\n",
        b"2026-12-06T23:00:02.000000000Z two\n2026-12-06T23:00:03.000000000Z three\n",
        b"2026-12-06T23:00:03.000000000Z three\n2026-12-06T23:00:03.000000000Z three b\n",
    ]
    stop = threading.Event()
    seen = []
    for line in runtime_over(api).follow_logs("web-green", stop, tail=-1):
        seen.append(line)
        if len(seen) == 4:
            stop.set()
    assert seen == [b"one", b"two", b"three", b"three b"]
    assert all(call["timestamps"] for call in api.log_calls)


def test_logs_of_a_missing_service_are_empty() -> None:
    assert runtime_over(FakeApi()).logs("web-blue") == []


def test_the_merged_stats_frame_sums_every_task() -> None:
    def frame(cpu: int, system: int, memory: int) -> dict:
        return {
            "read": "2026-12-06T23:00:00Z",
            "cpu_stats": {"cpu_usage": {"total_usage": cpu}, "system_cpu_usage": system},
            "precpu_stats": {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0},
            "memory_stats": {"usage": memory, "limit": 1000},
            "networks": {"eth0": {"rx_bytes": 5, "tx_bytes": 6}},
        }

    merged = merged_frame([frame(10, 100, 300), frame(30, 100, 200)])
    assert merged["cpu_stats"]["cpu_usage"]["total_usage"] == 40
    assert merged["cpu_stats"]["system_cpu_usage"] == 200
    assert merged["memory_stats"] == {"usage": 500, "limit": 2000}
    assert len(merged["networks"]) == 2


def test_swarm_keys_are_checked_only_for_a_swarm() -> None:
    bad = SwarmConfig(replicas=0, constraints=["role worker"], engines={"w1": "10.0.0.1"})
    assert swarm_problems(bad, "docker") == []
    problems = " | ".join(swarm_problems(bad, "swarm"))
    assert "swarm.replicas must be 1 or more" in problems
    assert "'role worker' is not a placement constraint" in problems
    assert "swarm.engines.w1" in problems


def test_a_refused_create_is_one_sentence() -> None:
    api = FakeApi(node_list=THREE_NODES)

    def refuse(**kwargs: object) -> None:
        raise docker.errors.APIError("refused", explanation="port 29751 is already in use")

    api.create_service = refuse  # type: ignore[method-assign]
    with pytest.raises(Exception, match="could not be created: port 29751 is already in use"):
        runtime_over(api).start(SPEC)


def test_a_task_that_died_with_its_node_is_not_a_restart() -> None:
    api = cluster(task("t1", "n1"), task("t2", "n2"), task("t3", "n3"))
    runtime = runtime_over(api)
    api.node_list[2] = node("n3", "w2", "10.77.0.4", state="down")
    assert runtime.inspect("web-green").restart_count == 0  # type: ignore[union-attr]
    # w2 comes back and reports its task failed (its container was killed with the host).
    api.node_list[2] = node("n3", "w2", "10.77.0.4")
    api.tasks_of["svc1"][2] = task("t3", "n3", state="failed", desired="shutdown", err="exit 137")
    api.tasks_of["svc1"].append(task("t4", "n3"))
    assert runtime.inspect("web-green").restart_count == 0  # type: ignore[union-attr]
    api.tasks_of["svc1"].append(task("t5", "n1", state="failed", desired="shutdown"))  # a crash
    assert runtime.inspect("web-green").restart_count == 1  # type: ignore[union-attr]
