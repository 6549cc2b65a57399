"""A container's usage against the real engine: the stats stream's figures and the cgroup
counters' (what the agent reads of a local container) agree with `docker stats --no-stream`, the
stream ends when its container goes, and a colour's figures are back after dockerd restarts.

Containers are named `bgtest-res-*` (host ports 56046-56047) and removed by every test. The
restart test stops and starts the shared dockerd: run it under the integration lock only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import docker
import pytest

from console.agent.resource_watch import ResourceWatch
from console.core.config.load import parse_config
from console.core.config.resources import memory_bytes, nano_cpus
from console.core.contracts.runtime import ContainerRuntimeError, ContainerSpec
from console.drivers.docker.cgroup_usage import local_usage
from console.drivers.docker.runtime import DockerRuntime
from console.drivers.docker.stats import StatsStream
from tests.reliability.test_console_degrades import start_docker_daemon, stop_docker_daemon

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

BASE_IMAGE = "bluegreen-base:bookworm"
PREFIX = "bgtest-res-"
# 64 MiB touched page by page (resident, not cache), then a busy loop capped at half a core.
BUSY = (
    "blob = bytearray(64 << 20)\n"
    "for i in range(0, len(blob), 4096):\n    blob[i] = 1\n"
    "print('ready', flush=True)\n"
    "while True:\n    pass\n"
)
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "kB": 1000, "MB": 10**6}


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def sweep(prefix: str = PREFIX) -> None:
    """Remove every container whose name starts with `prefix`."""
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"name": prefix}):
            container.remove(force=True)
    finally:
        client.close()


@pytest.fixture
def runtime(base_image: str) -> Iterator[DockerRuntime]:
    sweep()
    yield DockerRuntime()
    sweep()


def busy_spec(name: str, port: int, restart_policy: str = "no") -> ContainerSpec:
    return ContainerSpec(
        name=PREFIX + name,
        image=BASE_IMAGE,
        command=["python3", "-u", "-c", BUSY],
        env={},
        labels={},
        host_port=port,
        container_port=8080,
        restart_policy=restart_policy,
        stop_timeout=1,
        nano_cpus=nano_cpus(0.5),  # the path [image] cpus takes
        mem_limit=memory_bytes("512m"),
    )


def docker_stats(name: str) -> dict[str, str]:
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{json .}}", name],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def size(text: str) -> float:
    match = re.match(r"([\d.]+)\s*([A-Za-z]+)", text.strip())
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def test_figures_agree_with_docker_stats(runtime: DockerRuntime) -> None:
    spec = busy_spec("busy", 56046)
    runtime.start(spec)
    assert wait_for(lambda: b"ready" in b"".join(runtime.logs(spec.name)), 20)
    attrs = docker.from_env().api.inspect_container(spec.name)["HostConfig"]
    assert attrs["NanoCpus"] == 500_000_000 and attrs["Memory"] == 512 << 20
    stream = StatsStream(runtime, spec.name)
    try:
        assert wait_for(lambda: stream.frames >= 12, 30), f"frames: {stream.frames}"
        theirs = docker_stats(spec.name)
        ours = stream.figures()
    finally:
        stream.stop()
    assert ours is not None and ours.cpu_percent is not None and ours.memory_bytes is not None
    cores = os.cpu_count() or 1
    their_cpu = float(theirs["CPUPerc"].rstrip("%")) / cores  # docker: % of one core
    their_memory, their_limit = (size(part) for part in theirs["MemUsage"].split("/"))
    print(
        f"cpu ours {ours.cpu_percent:.1f} % of host vs docker {their_cpu:.1f} %; memory ours "
        f"{ours.memory_bytes / 2**20:.1f} MiB vs docker {their_memory / 2**20:.1f} MiB"
    )
    assert ours.cpu_percent == pytest.approx(their_cpu, rel=0.10)
    assert ours.memory_bytes == pytest.approx(their_memory, rel=0.10)
    assert ours.memory_limit_bytes == 512 << 20
    assert their_limit == pytest.approx(512 << 20, rel=0.01)
    # Half a core of a busy loop: a quarter of a 2-core host, whatever else runs (the cap).
    assert ours.cpu_percent == pytest.approx(50.0 / cores, rel=0.10)


def test_the_cgroup_counters_agree_with_docker_stats(runtime: DockerRuntime) -> None:
    """What the agent reads of a local container (drivers/docker/cgroup_usage.py, sampled at
    each full tick, here every second) against the engine's own figures."""
    spec = busy_spec("cgroup", 56047)
    runtime.start(spec)
    assert wait_for(lambda: b"ready" in b"".join(runtime.logs(spec.name)), 20)
    info = runtime.inspect(spec.name)
    assert info is not None and info.pid > 0
    usage = local_usage(info)
    assert usage is not None, "this host's containers are read from their cgroup"
    for _ in range(10):
        time.sleep(1)
        usage.sample()
    theirs = docker_stats(spec.name)
    ours = usage.figures()
    assert ours is not None and ours.cpu_percent is not None and ours.memory_bytes is not None
    cores = os.cpu_count() or 1
    their_cpu = float(theirs["CPUPerc"].rstrip("%")) / cores
    their_memory, _their_limit = (size(part) for part in theirs["MemUsage"].split("/"))
    print(
        f"cpu ours {ours.cpu_percent:.1f} % of host vs docker {their_cpu:.1f} %; memory ours "
        f"{ours.memory_bytes / 2**20:.1f} MiB vs docker {their_memory / 2**20:.1f} MiB"
    )
    assert ours.cpu_percent == pytest.approx(their_cpu, rel=0.10)
    assert ours.cpu_percent == pytest.approx(50.0 / cores, rel=0.10)  # the half-core cap
    assert ours.memory_bytes == pytest.approx(their_memory, rel=0.10)
    assert ours.memory_limit_bytes == 512 << 20
    runtime.stop(spec.name, timeout=1)
    usage.sample()
    assert not usage.alive and usage.figures() is None  # its process is gone


def test_the_stream_ends_when_its_container_goes(runtime: DockerRuntime) -> None:
    spec = busy_spec("gone", 56047)
    runtime.start(spec)
    stream = StatsStream(runtime, spec.name)
    assert wait_for(lambda: stream.frames >= 2, 15)
    runtime.stop(spec.name, timeout=1)
    assert stream.join(10), "the stream kept running after its container stopped"
    runtime.start(spec)  # a stopped container is replaced; a removed one ends its stream too
    again = StatsStream(runtime, spec.name)
    assert wait_for(lambda: again.frames >= 1, 15)
    runtime.remove(spec.name)
    assert again.join(10), "the stream kept running after its container was removed"


def watch_config() -> SimpleNamespace:
    config = parse_config(
        f"""
[image]
repository = "x"
[slots.blue]
container = "{PREFIX}restart"
host_port = 56046
[slots.green]
container = "{PREFIX}other"
host_port = 56047
"""
    )
    return SimpleNamespace(config=config, runtime=DockerRuntime(timeout=5))


@pytest.mark.skipif(os.geteuid() != 0, reason="stopping the Docker daemon needs root")
@pytest.mark.skipif(shutil.which("dockerd") is None, reason="no local Docker daemon")
def test_a_colours_stream_is_back_after_docker_restarts(runtime: DockerRuntime) -> None:
    spec = busy_spec("restart", 56046, restart_policy="always")
    runtime.start(spec)
    inst = watch_config()
    slot = inst.config.slot("blue")
    watch = ResourceWatch("blue", slot, inst.config.resources, lambda: inst.runtime, 3.0)

    def follow() -> tuple[object, int]:
        """One agent tick's worth: follow the container as Docker sees it; (stream, frames)."""
        # Docker silent: the agent leaves the stream to retry on its own.
        with contextlib.suppress(ContainerRuntimeError):
            watch.follow(inst.runtime.inspect(spec.name))
        stream = watch.stream
        return stream, stream.frames if stream is not None else 0

    try:
        assert wait_for(lambda: follow()[1] >= 2, 15)
        stream_before, frames_before = follow()
        stop_docker_daemon()
        try:
            down_at = time.monotonic()
            time.sleep(2)
            follow()
        finally:
            start_docker_daemon()

        def fresh_frames() -> bool:
            stream, frames = follow()
            if stream is None:
                return False
            return frames >= (frames_before + 2 if stream is stream_before else 2)

        assert wait_for(fresh_frames, 90), (
            f"no stats frames after dockerd came back (stream alive: "
            f"{watch.stream.alive if watch.stream else None}, error: "
            f"{watch.stream.error if watch.stream else None})"
        )
        assert watch.stream is not None
        print(
            f"stats back {time.monotonic() - down_at:.1f} s after dockerd stopped; same stream "
            f"object: {watch.stream is stream_before}, streams opened: {watch.stream.opened}"
        )
        figures = watch.figures(None)
        assert figures is not None and figures.memory_bytes is not None
    finally:
        watch.close()
        subprocess.run(["bash", "./dev", "docker"], check=True, timeout=120)
