"""A local container's usage from its cgroup files: v1 and v2 layouts written under a temporary
root, read as the agent reads a real host's (the real engine: tests/integration/
test_resource_stream.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.core.contracts.runtime import ContainerInfo
from console.drivers.docker.cgroup_usage import CgroupUsage, _mounts, local_usage

CID = "12a54b82d95c1ad65bc2c2d8400012eb2d01905596e8315afcd3d8aa2703cbe7"
NET_DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs\n"
    "    lo:     500       5    0    0    0     0          0         0      500       5    0"
    "    0    0     0       0          0\n"
    "  eth0:   42451     416    0    0    0     0          0         0    58595     355    0"
    "    0    0     0       0          0\n"
)


def info(pid: int = 4242, running: bool = True, host_network: bool = False) -> ContainerInfo:
    return ContainerInfo(
        name="web-blue",
        id=CID,
        image="web:v1",
        labels={},
        state="running" if running else "exited",
        running=running,
        exit_code=None,
        health=None,
        restart_count=0,
        started_at=None,
        finished_at=None,
        error=None,
        oom_killed=False,
        pid=pid if running else 0,
        host_network=host_network,
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def v1_host(root: Path, pid: int = 4242) -> dict[str, Path]:
    """cgroup v1 as Docker's cgroupfs driver lays it out (this machine's)."""
    write(
        root / "proc/self/mounts",
        "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n"
        "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
        "cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0\n"
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n",
    )
    write(
        root / f"proc/{pid}/cgroup",
        f"12:blkio:/docker/{CID}\n4:memory:/docker/{CID}\n"
        f"2:cpu,cpuacct:/docker/{CID}\n0::/docker/{CID}\n",
    )
    write(root / f"proc/{pid}/net/dev", NET_DEV)
    cpu = root / f"sys/fs/cgroup/cpu,cpuacct/docker/{CID}"
    memory = root / f"sys/fs/cgroup/memory/docker/{CID}"
    blkio = root / f"sys/fs/cgroup/blkio/docker/{CID}"
    write(cpu / "cpuacct.usage", "1000000000\n")
    write(memory / "memory.usage_in_bytes", str(80 << 20) + "\n")
    write(memory / "memory.limit_in_bytes", str(512 << 20) + "\n")
    write(
        memory / "memory.stat",
        "cache 4096\nrss 10117120\ninactive_file 999\ntotal_cache 4096\n"
        f"total_inactive_file {16 << 20}\ntotal_active_file 0\n",
    )
    write(
        blkio / "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n",
    )
    return {"cpu": cpu / "cpuacct.usage", "blkio": blkio}


def v2_host(root: Path, pid: int = 4242) -> Path:
    """cgroup v2 as Docker's systemd driver lays it out (Debian 12, Ubuntu 22.04 and later)."""
    write(root / "proc/self/mounts", "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n")
    write(root / f"proc/{pid}/cgroup", f"0::/system.slice/docker-{CID}.scope\n")
    write(root / f"proc/{pid}/net/dev", NET_DEV)
    base = root / f"sys/fs/cgroup/system.slice/docker-{CID}.scope"
    write(base / "cpu.stat", "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\n")
    write(base / "memory.current", str(64 << 20) + "\n")
    write(base / "memory.max", "max\n")
    write(base / "memory.stat", f"anon 1000\nfile 2000\ninactive_file {4 << 20}\n")
    write(base / "io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n")
    return base


@pytest.fixture(autouse=True)
def fresh_mounts() -> None:
    _mounts.cache_clear()


def test_cgroup_v1_figures_as_docker_counts_them(tmp_path: Path) -> None:
    files = v1_host(tmp_path)
    clock = Clock()
    usage = CgroupUsage(info(), clock=clock, root=str(tmp_path))
    sample = usage.window.newest
    assert sample is not None
    assert sample.cpu_percent is None  # nothing to compare the first reading with
    assert sample.memory_bytes == (80 - 16) << 20  # total_inactive_file left out, not v2's key
    assert sample.memory_limit_bytes == 512 << 20
    assert (sample.block_read_bytes, sample.block_write_bytes) == (4096, 8192)
    assert (sample.net_rx_bytes, sample.net_tx_bytes) == (42451, 58595)  # lo left out
    # Two seconds later the container used one more second of CPU: half a core.
    clock.now += 2
    files["cpu"].write_text("2000000000\n")
    usage.sample()
    figures = usage.figures()
    assert figures is not None and figures.cpu_percent is not None
    cores = os.cpu_count() or 1
    assert figures.cpu_percent == pytest.approx(50.0 / cores)
    assert usage.frames == 2 and usage.alive


def test_cgroup_v2_figures(tmp_path: Path) -> None:
    v2_host(tmp_path)
    usage = local_usage(info(), root=str(tmp_path))
    assert isinstance(usage, CgroupUsage)
    sample = usage.window.newest
    assert sample is not None
    assert sample.memory_bytes == (64 - 4) << 20
    assert sample.memory_limit_bytes is not None and sample.memory_limit_bytes > 0  # the host's
    assert (sample.block_read_bytes, sample.block_write_bytes) == (101, 202)


def test_a_host_network_container_counts_no_traffic(tmp_path: Path) -> None:
    v2_host(tmp_path)
    usage = local_usage(info(host_network=True), root=str(tmp_path))
    assert usage is not None and usage.window.newest is not None
    assert usage.window.newest.net_rx_bytes == 0  # the host's interfaces are not its own


def test_no_reader_for_a_process_of_another_container_or_host(tmp_path: Path) -> None:
    v1_host(tmp_path)
    # The PID is someone else's here (another PID namespace, a remote engine, a reused PID).
    write(tmp_path / "proc/4242/cgroup", "0::/user.slice/session-1.scope\n")
    assert local_usage(info(), root=str(tmp_path)) is None
    assert local_usage(info(pid=999), root=str(tmp_path)) is None  # no such process here
    assert local_usage(info(running=False), root=str(tmp_path)) is None


def test_a_stopped_container_ends_its_reader_and_its_figures(tmp_path: Path) -> None:
    v1_host(tmp_path)
    usage = CgroupUsage(info(), root=str(tmp_path))
    (tmp_path / "proc/4242/net/dev").unlink()  # the process is gone
    usage.sample()
    assert not usage.alive and usage.figures() is None
    assert usage.error is not None and "web-blue" in usage.error


def test_figures_go_stale_when_nobody_samples(tmp_path: Path) -> None:
    """Docker stopped answering, so the agent stopped sampling: old figures are not shown."""
    v1_host(tmp_path)
    clock = Clock()
    usage = CgroupUsage(info(), clock=clock, root=str(tmp_path))
    assert usage.figures() is not None
    clock.now += 11
    assert usage.figures() is None
