"""One colour's resources: its container's usage, its database's size, its disk.

A container whose process runs on this host is read from the kernel's counters at each full tick
(console/drivers/docker/cgroup_usage.py: no thread, no stream). Any other (a remote engine, a
PID namespace not ours, counters we may not read) is followed through the engine's stats stream
on its own thread (console/drivers/docker/stats.py) while it runs. Either is opened again when
the container runs again (a new deployment, or the engine restarted it after a daemon restart).
The database size is read with `pg_database_size` on its own sampler, every
`[resources] db_size_interval_seconds`, over one persistent connection (the SQL source's). The
disk is `statvfs(disk_path)` or `disk_budget_bytes` minus the size.

`SlotWatch` owns one per colour: `follow()` each tick with the container as Docker last saw it,
`outlook()` for the gate, `figures()` for the published status.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from console.agent.samplers import Sampler
from console.core.config.resources import ResourcesConfig
from console.core.config.schema import SlotConfig
from console.core.contracts.runtime import Runtime
from console.core.gate.disk import DiskOutlook, disk_warning
from console.core.measures.resources import (
    CPU_HISTORY_POINTS,
    CPU_HISTORY_SECONDS,
    GrowthWindow,
    ResourceFigures,
    size_text,
)
from console.drivers.docker.cgroup_usage import CgroupUsage, local_usage
from console.drivers.docker.stats import StatsStream
from console.drivers.progress.base import Place
from console.drivers.progress.sql import SqlProgress

if TYPE_CHECKING:
    from console.core.contracts.runtime import ContainerInfo
    from console.core.model import Color

_REOPEN_SECONDS = 2.0
DB_SIZE_QUERY = "SELECT pg_database_size(current_database())"


class ResourceWatch:
    def __init__(
        self,
        color: Color,
        slot: SlotConfig,
        config: ResourcesConfig,
        runtime: Callable[[], Runtime],
        stale_after: float,
    ) -> None:
        self.color = color
        self.slot = slot
        # The container engine, opened on first use: only a running container is streamed.
        self.runtime = runtime
        self.enabled = config.stats
        self.stream: StatsStream | CgroupUsage | None = None
        self._container_id: str | None = None
        self._pid = 0
        self._stream_started = -float("inf")
        self.growth = GrowthWindow()
        self._cpu_history: deque[float] = deque(maxlen=CPU_HISTORY_POINTS)
        self._cpu_point_at = -float("inf")
        self._db_round = 0
        self._db_interval = config.db_size_interval_seconds
        self._db_requested_at = -float("inf")
        self._db: SqlProgress | None = None
        self.db_size: Sampler[int | None] | None = None
        url = self.slot.sampling_db_url
        if self.enabled and url:
            place = Place(f"slots.{color}.host_db_url", f"{color} database", color)
            self._db = SqlProgress(place, url, DB_SIZE_QUERY)
            db = self._db
            self.db_size = Sampler(
                "db_size",
                f"the {color} database size",
                db.read_height,
                stale_after=max(stale_after, 3 * self._db_interval),
            )
        if self.slot.disk_budget_bytes:
            self.where = f"budget {size_text(self.slot.disk_budget_bytes)}"
        else:
            self.where = f"disk {self.slot.disk_path}"

    @property
    def watches_disk(self) -> bool:
        return self.enabled and bool(self.slot.disk_path or self.slot.disk_budget_bytes)

    def samplers(self) -> list[Sampler[Any]]:
        return [self.db_size] if self.db_size is not None else []

    def wanted(self) -> list[Sampler[Any]]:
        """The database size only every `db_size_interval_seconds`."""
        now = time.monotonic()
        if self.db_size is None or now - self._db_requested_at < self._db_interval:
            return []
        self._db_requested_at = now
        return [self.db_size]

    def follow(self, info: ContainerInfo | None) -> None:
        """Keep one reader on the running container and take its sample: a new container (or
        the same one with a new process) gets a new one, a stopped or removed one none (a stream
        has ended by itself, or is told to)."""
        if not self.enabled:
            return
        container_id = info.id if info is not None else None
        running = info is not None and info.running
        moved = info is not None and info.pid != self._pid
        if self.stream is not None and (not running or container_id != self._container_id or moved):
            self.stream.stop()
            self.stream = None
        self._pid = info.pid if info is not None else 0
        if container_id != self._container_id:
            self.growth.clear()  # a new deployment's database starts its own growth
            self._container_id = container_id
        if info is None or not running:
            return
        ended = self.stream is None or not self.stream.alive
        # A stream that ended while Docker says "running" (the engine was restarting): open a
        # new one, at most every few seconds.
        if ended and time.monotonic() - self._stream_started >= _REOPEN_SECONDS:
            self._stream_started = time.monotonic()
            self.stream = local_usage(info) or StatsStream(self.runtime(), info.name)
        elif isinstance(self.stream, CgroupUsage):
            self.stream.sample()

    def _take_db_size(self) -> None:
        if self.db_size is None:
            return
        sampled = self.db_size.latest()
        if sampled.round != self._db_round and sampled.value is not None and not sampled.error:
            self.growth.add(sampled.answered_at, sampled.value)
        self._db_round = sampled.round

    def _free_bytes(self) -> int | None:
        if self.slot.disk_budget_bytes:
            size = self.growth.size
            return None if size is None else self.slot.disk_budget_bytes - size
        if self.slot.disk_path:
            try:
                stat = os.statvfs(self.slot.disk_path)
            except OSError:
                return None
            return stat.f_bavail * stat.f_frsize
        return None

    def outlook(self, eta_seconds: float | None) -> DiskOutlook | None:
        """For the gate's `free_disk_after_catchup`; None when no disk is configured."""
        self._take_db_size()
        if not self.watches_disk:
            return None
        return DiskOutlook(self._free_bytes(), self.growth.growth_bps(), eta_seconds, self.where)

    def figures(self, eta_seconds: float | None) -> ResourceFigures | None:
        """What the status publishes; None when nothing is measured."""
        if not self.enabled:
            return None
        usage = self.stream.figures() if self.stream is not None else None
        outlook = self.outlook(eta_seconds)
        warning = disk_warning(self.color, outlook) if outlook is not None else None
        now = time.monotonic()
        cpu = usage.cpu_percent if usage is not None else None
        if cpu is not None and now - self._cpu_point_at >= CPU_HISTORY_SECONDS:
            self._cpu_point_at = now
            self._cpu_history.append(round(cpu, 1))
        figures = replace(
            usage or ResourceFigures(),
            db_size_bytes=self.growth.size,
            db_growth_bps=self.growth.growth_bps(),
            disk_free_bytes=outlook.free_bytes if outlook else None,
            disk_full_in_seconds=outlook.full_in_seconds if outlook else None,
            fills_before_caught_up=outlook.fills_before_caught_up if outlook else None,
            warnings=(warning,) if warning else (),
            cpu_history=tuple(self._cpu_history),
        )
        return figures if figures.measured or figures.disk_free_bytes is not None else None

    def close(self) -> None:
        if self.stream is not None:
            self.stream.stop()
        if self.db_size is not None:
            self.db_size.close()
        if self._db is not None:
            self._db.close()
