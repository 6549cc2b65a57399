"""A local container's usage read from the kernel's own counters: no stream, no thread.

The engine's stats stream (stats.py) costs the agent a thread per running container, woken by a
JSON frame every second: at 20 idle services, 40 threads and about 1 % of a core for figures
shown every few seconds. The engine computes those frames from files the kernel keeps for the
container's cgroup, and a process on the same host can read them itself, as cAdvisor does: CPU
time, memory (less the reclaimable page cache, as `docker stats` counts it), block I/O, and the
network counters of the container's own namespace. `CgroupUsage.sample()` reads them when the
agent composes the colour (a few small files, tens of microseconds; procfs and cgroupfs never wait
on the engine, so a hung dockerd cannot stall it), and the same `UsageWindow` turns them into
rates.

Only where the container's process is this host's: `local_usage` opens a reader only when
`/proc/PID/cgroup` names the container's id (so a remote engine, another PID namespace, or a PID
reused by something else is never read) and the counters can be read; otherwise the caller keeps
the engine's stream. cgroup v1 (each controller its own hierarchy) and v2 (one unified hierarchy)
are both read; the hierarchies' mount points are taken from /proc/self/mounts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from console.core.contracts.runtime import ContainerInfo
from console.core.measures.resources import ResourceFigures, UsageSample, UsageWindow
from console.drivers.docker.stats import without_page_cache

# Sampled at each full tick (at most every few seconds); older than this, the figures are not
# shown: the agent stopped sampling because Docker stopped answering about the container.
STALE_AFTER_SECONDS = 10.0

_V1_CONTROLLERS = ("cpuacct", "memory", "blkio")
_UNLIMITED = 1 << 62  # v1 writes "no limit" as a page-rounded 2^63 - 1


class CgroupUnreadable(Exception):
    """The container's counters could not be read (it stopped, or they are not ours to read)."""


@lru_cache(maxsize=4)
def _mounts(mounts_file: str = "/proc/self/mounts") -> tuple[dict[str, str], str | None]:
    """Each v1 controller's mount point, and the unified (v2) hierarchy's, if mounted."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in Path(mounts_file).read_text().splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        where, kind, options = fields[1], fields[2], fields[3].split(",")
        if kind == "cgroup2" and v2 is None:
            v2 = where
        elif kind == "cgroup":
            for option in options:
                if option in _V1_CONTROLLERS:
                    v1.setdefault(option, where)
    return v1, v2


@lru_cache(maxsize=1)
def _host_memory() -> int | None:
    """The host's memory: what `docker stats` shows as the limit of an unlimited container."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class _Files:
    """Where one container's counters are, v1 or v2."""

    def __init__(self, pid: int, container_id: str, root: str = "") -> None:
        v1_mounts, v2_mount = _mounts(root + "/proc/self/mounts") if root else _mounts()
        try:
            lines = Path(f"{root}/proc/{pid}/cgroup").read_text().splitlines()
        except OSError as exc:
            raise CgroupUnreadable(f"no process {pid} here: {exc}") from None
        paths: dict[str, str] = {}
        unified: str | None = None
        for line in lines:
            _hierarchy, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if not controllers:
                unified = path
            for controller in controllers.split(","):
                paths[controller] = path
        if len(container_id) < 12 or not any(
            container_id in path for path in [*paths.values(), unified or ""]
        ):
            raise CgroupUnreadable(f"process {pid} is not in {container_id[:12]}'s cgroup")
        self.net_dev = f"{root}/proc/{pid}/net/dev"
        self.v2: str | None = None
        if all(c in paths and c in v1_mounts for c in _V1_CONTROLLERS):
            self.cpu = f"{root}{v1_mounts['cpuacct']}{paths['cpuacct']}/cpuacct.usage"
            memory = f"{root}{v1_mounts['memory']}{paths['memory']}"
            self.memory_usage = f"{memory}/memory.usage_in_bytes"
            self.memory_limit = f"{memory}/memory.limit_in_bytes"
            self.memory_stat = f"{memory}/memory.stat"
            self.io = f"{root}{v1_mounts['blkio']}{paths['blkio']}"
            self.io += "/blkio.throttle.io_service_bytes_recursive"
        elif unified is not None and v2_mount is not None:
            base = self.v2 = f"{root}{v2_mount}{unified}"
            self.cpu = f"{base}/cpu.stat"
            self.memory_usage = f"{base}/memory.current"
            self.memory_limit = f"{base}/memory.max"
            self.memory_stat = f"{base}/memory.stat"
            self.io = f"{base}/io.stat"
        else:
            raise CgroupUnreadable("no cgroup hierarchy with the cpu, memory and io counters")


def _read(path: str) -> str:
    # os.open/os.read, not open(): a text file object costs more than the kernel's work here.
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16).decode("ascii", "replace")
    finally:
        os.close(fd)


def _cpu_nanos(files: _Files) -> int:
    if files.v2 is None:
        return int(_read(files.cpu))
    for line in _read(files.cpu).splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) * 1000
    raise CgroupUnreadable("cpu.stat has no usage_usec")


def _memory(files: _Files) -> tuple[int, int | None]:
    """Usage without the inactive page cache (as the docker CLI counts it), and the limit."""
    stat = "\n" + _read(files.memory_stat)
    usage = without_page_cache(int(_read(files.memory_usage)), lambda key: _stat(stat, key))
    limit_text = _read(files.memory_limit).strip()
    limit = None if limit_text == "max" else int(limit_text)
    host = _host_memory()
    if limit is None or limit >= _UNLIMITED or (host is not None and limit > host):
        limit = host
    return usage, limit


def _stat(text: str, key: str) -> int | None:
    """One value of a memory.stat file's text (after a leading newline), found by its name, not
    parsed whole: the file has some 40 lines and is read at every full tick."""
    start = text.find(f"\n{key} ")
    if start < 0:
        return None
    start += len(key) + 2
    end = text.find("\n", start)
    return int(text[start : end if end >= 0 else None])


def _block_io(files: _Files) -> tuple[int, int]:
    read = write = 0
    try:
        text = _read(files.io)
    except FileNotFoundError:
        return 0, 0  # no io controller on this cgroup: nothing read or written, as Docker says
    for line in text.splitlines():
        fields = line.split()
        if files.v2 is not None:  # "8:0 rbytes=1 wbytes=2 rios=…"
            for field in fields[1:]:
                key, _, value = field.partition("=")
                if key == "rbytes":
                    read += int(value)
                elif key == "wbytes":
                    write += int(value)
        elif len(fields) == 3:  # "8:0 Read 1234"
            if fields[1] == "Read":
                read += int(fields[2])
            elif fields[1] == "Write":
                write += int(fields[2])
    return read, write


def _network(path: str) -> tuple[int, int]:
    """Bytes received and sent on the namespace's interfaces, loopback left out (as Docker)."""
    rx = tx = 0
    for line in _read(path).splitlines()[2:]:
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = counters.split()
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


class CgroupUsage:
    """One running container's counters, read on `sample()`; `alive` until a read fails (the
    container stopped, or restarted with another process: the caller opens a new reader). Used
    from the agent's tick thread only: unlike the stream, no thread of its own, no lock."""

    def __init__(
        self,
        info: ContainerInfo,
        clock: Callable[[], float] = time.time,
        root: str = "",
    ) -> None:
        if not info.pid:
            raise CgroupUnreadable(f"{info.name} has no process")
        self.name = info.name
        self.window = UsageWindow()
        self.frames = 0  # samples taken (the stream's name for them: tests and the bench)
        self.opened = 1
        self.error: str | None = None
        self.last_frame_at = 0.0
        self._files = _Files(info.pid, info.id, root)
        self._host_network = info.host_network
        self._clock = clock
        self._cores = os.cpu_count() or 1
        self._previous_cpu: tuple[float, int] | None = None
        self._alive = True
        self.sample()  # a first reading: one that fails says at once that this reader cannot
        if not self._alive:
            raise CgroupUnreadable(self.error or "unreadable")

    @property
    def alive(self) -> bool:
        return self._alive

    def stop(self) -> None:
        self._alive = False

    def sample(self) -> None:
        """Read the counters now and add them to the window."""
        if not self._alive:
            return
        files = self._files
        try:
            at = self._clock()
            cpu = _cpu_nanos(files)
            memory, limit = _memory(files)
            read, write = _block_io(files)
            rx, tx = (0, 0) if self._host_network else _network(files.net_dev)
        except (OSError, ValueError, IndexError, CgroupUnreadable) as exc:
            self.error = f"{self.name}'s counters: {exc}"
            self._alive = False
            return
        percent = None
        if self._previous_cpu is not None:
            then, used = self._previous_cpu
            if at > then and cpu >= used:
                # A share of the whole host, as the stream's frames are (all cores together).
                percent = 100.0 * (cpu - used) / ((at - then) * 1e9 * self._cores)
        self._previous_cpu = (at, cpu)
        self.window.add(UsageSample(at, percent, memory, limit, read, write, rx, tx))
        self.last_frame_at = at
        self.frames += 1

    def figures(self) -> ResourceFigures | None:
        if not self._alive:
            return None
        if self._clock() - self.last_frame_at > STALE_AFTER_SECONDS:
            return None
        return self.window.figures()


def local_usage(info: ContainerInfo, root: str = "") -> CgroupUsage | None:
    """A reader of `info`'s counters when its process runs on this host and they can be read;
    None to keep the engine's stream (a remote engine, another PID namespace, no rights)."""
    if not info.running or not info.pid:
        return None
    try:
        return CgroupUsage(info, root=root)
    except (CgroupUnreadable, OSError, ValueError):
        return None
