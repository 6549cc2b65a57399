"""One container's Docker stats stream, on its own thread: the latest frame, never a blocking poll.

`docker stats --no-stream` costs about two seconds per call (the engine waits for a second frame
to compute CPU); a stream costs one connection and a JSON frame a second. `StatsStream` keeps
the stream open while the container runs, parses each frame into a `UsageSample` (the same
arithmetic as the docker CLI), and:
- ends by itself when the container stops (the engine then sends empty frames) or is removed
  (the engine closes the stream);
- re-opens after a connection error (the daemon restarted) while the container should run,
  backing off up to `_RETRY_MAX_SECONDS`;
- stops within about a second of `stop()` (the next frame), from any thread.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import docker.errors

from console.core.contracts.runtime import ContainerRuntimeError, Runtime
from console.core.measures.resources import ResourceFigures, UsageSample, UsageWindow

_RETRY_MIN_SECONDS = 0.5
_RETRY_MAX_SECONDS = 5.0
# Frames come every second; a window whose newest frame is older than this is not shown (a hung
# dockerd blocks the stream's read: the SDK sets no read timeout on streams).
STALE_AFTER_SECONDS = 5.0
_NANOS = re.compile(r"(\.\d{6})\d+")


def usage_sample(frame: Mapping[str, Any], received_at: float) -> UsageSample | None:
    """A stats frame → UsageSample; None for the empty frame of a container that is not running
    (the engine keeps sending those, stamped 0001-01-01, after the container stops)."""
    cpu = frame.get("cpu_stats") or {}
    pre = frame.get("precpu_stats") or {}
    memory = frame.get("memory_stats") or {}
    if str(frame.get("read", "")).startswith("0001-") or not memory:
        return None
    cpu_delta = _int(cpu, "cpu_usage", "total_usage") - _int(pre, "cpu_usage", "total_usage")
    system_delta = _int(cpu, "system_cpu_usage") - _int(pre, "system_cpu_usage")
    # system_cpu_usage counts every core, so the ratio is already a share of the whole host.
    host_percent = 100.0 * cpu_delta / system_delta if system_delta > 0 and cpu_delta >= 0 else None
    if not _int(pre, "system_cpu_usage"):
        host_percent = None  # the first frame has no previous one to compare with
    usage = memory.get("usage")
    stats = memory.get("stats") or {}
    if isinstance(usage, int):
        usage = without_page_cache(
            usage, lambda key: cache if isinstance(cache := stats.get(key), int) else None
        )
    read = write = 0
    for entry in (frame.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value", 0))
        elif op == "write":
            write += int(entry.get("value", 0))
    networks = (frame.get("networks") or {}).values()
    return UsageSample(
        at=_frame_time(frame.get("read"), received_at),
        cpu_percent=host_percent,
        memory_bytes=usage if isinstance(usage, int) else None,
        memory_limit_bytes=memory.get("limit") if isinstance(memory.get("limit"), int) else None,
        block_read_bytes=read,
        block_write_bytes=write,
        net_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in networks),
        net_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in networks),
    )


def without_page_cache(usage: int, cache_of: Callable[[str], int | None]) -> int:
    """Memory as the docker CLI counts it: the inactive page cache is reclaimable, not the
    container's (cgroup v1's total_inactive_file first, then v2's inactive_file). `cache_of`
    gives a memory.stat value by name, None when absent (the stream's frames and the cgroup's
    own file, cgroup_usage.py, both come here)."""
    for key in ("total_inactive_file", "inactive_file"):
        cache = cache_of(key)
        if cache is not None and 0 <= cache < usage:
            return usage - cache
    return usage


def _int(data: dict[str, Any], *path: str) -> int:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) else 0


def _frame_time(text: object, fallback: float) -> float:
    """The engine's own stamp (RFC 3339 with nanoseconds): rates then follow the engine's clock,
    not when this thread happened to be scheduled."""
    if not isinstance(text, str) or text.startswith("0001-"):
        return fallback
    try:
        return datetime.fromisoformat(_NANOS.sub(r"\1", text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return fallback


class StatsStream:
    """Follows one container's stats until it stops; `window` holds the recent frames."""

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.window = UsageWindow()
        self.frames = 0  # frames received, for tests and the bench
        self.opened = 0  # streams opened (1 + reconnections)
        self.error: str | None = None
        self.last_frame_at = 0.0  # this host's clock, when the newest frame arrived
        self._runtime = runtime
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stats-{name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def figures(self) -> ResourceFigures | None:
        """The window's figures; None when no frame arrived for STALE_AFTER_SECONDS."""
        with self._lock:
            if self._clock() - self.last_frame_at > STALE_AFTER_SECONDS:
                return None
            return self.window.figures()

    def _still_running(self) -> bool:
        try:
            info = self._runtime.inspect(self.name)
        except ContainerRuntimeError:
            return True  # the engine is away (restarting): try again when it is back
        return info is not None and info.running

    def _run(self) -> None:
        backoff = _RETRY_MIN_SECONDS
        while not self._stop.is_set():
            try:
                self.opened += 1
                for frame in self._runtime.stats_frames(self.name):
                    if self._stop.is_set():
                        return
                    sample = usage_sample(frame, self._clock())
                    if sample is None and not self._still_running():
                        return  # stopped: the engine would send empty frames forever
                    if sample is not None:
                        with self._lock:
                            self.window.add(sample)
                            self.last_frame_at = self._clock()
                        self.frames += 1
                        self.error = None
                        backoff = _RETRY_MIN_SECONDS
            except docker.errors.NotFound:
                return  # the container is gone: so is its stream
            except (ContainerRuntimeError, docker.errors.DockerException) as exc:
                self.error = str(exc)
            except Exception as exc:  # a runtime without stats (a test's fake): nothing to follow
                self.error = repr(exc)
                return
            # The stream ended: the container stopped (done) or the daemon went away (retry
            # while the container still runs).
            if self._stop.is_set() or not self._still_running():
                return
            if self._stop.wait(backoff):
                return
            backoff = min(_RETRY_MAX_SECONDS, backoff * 2)
