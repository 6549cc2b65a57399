"""A colour's resources on a Swarm: one stats stream per running task, on its node's engine
(`[swarm] engines`; the manager cannot stream another node's containers), merged into one frame a
second in the Docker stats shape the agent already reads.

The merge sums every counter: CPU used over CPU available is then the colour's share of the nodes
its tasks run on, memory and I/O its total. A task without a reachable engine is left out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from console.core.contracts.runtime import ContainerRuntimeError, ReplicaSet

if TYPE_CHECKING:
    from console.drivers.docker.runtime import DockerRuntime

_MERGE_SECONDS = 1.0
_SUMMED = (
    ("cpu_stats", "cpu_usage", "total_usage"),
    ("cpu_stats", "system_cpu_usage"),
    ("precpu_stats", "cpu_usage", "total_usage"),
    ("precpu_stats", "system_cpu_usage"),
    ("memory_stats", "usage"),
    ("memory_stats", "limit"),
    ("memory_stats", "stats", "inactive_file"),
    ("memory_stats", "stats", "total_inactive_file"),
)


class SwarmStatsMixin:
    """Needs SwarmRuntime's `replicas` and `node_engine`."""

    replicas: Callable[[str], ReplicaSet | None]
    node_engine: Callable[[str], DockerRuntime | None]

    def stats_frames(self, name: str) -> Iterator[dict[str, Any]]:
        """Merged frames of the colour's running tasks, one a second, while any is streamed;
        ends when none is (the caller re-opens, and a task started since then is included)."""
        replicas = self.replicas(name)
        streams: list[tuple[DockerRuntime, str]] = []
        for task in replicas.counting if replicas else ():
            engine = self.node_engine(task.node)
            if engine is not None and task.container_id:
                streams.append((engine, task.container_id))
        if not streams:
            return
        latest: dict[str, Mapping[str, Any]] = {}
        ended = threading.Event()
        stop = threading.Event()
        alive = [len(streams)]
        lock = threading.Lock()

        def pump(engine: DockerRuntime, container_id: str) -> None:
            try:
                for frame in engine.stats_frames(container_id):
                    latest[container_id] = frame
                    if stop.is_set():
                        return
            except (ContainerRuntimeError, Exception):  # gone, engine down: this one ends
                pass
            finally:
                latest.pop(container_id, None)
                with lock:
                    alive[0] -= 1
                    if alive[0] == 0:
                        ended.set()

        for engine, container_id in streams:
            threading.Thread(
                target=pump, args=(engine, container_id), name="swarm-stats", daemon=True
            ).start()
        try:
            while not ended.wait(_MERGE_SECONDS):
                frames = list(latest.values())
                if frames:
                    yield merged_frame(frames)
        finally:
            stop.set()


def merged_frame(frames: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One frame whose counters are the sums of `frames`' (the first frame's other fields)."""
    merged: dict[str, Any] = {"read": frames[0].get("read"), "networks": {}}
    for path in _SUMMED:
        values = [_get(frame, path) for frame in frames]
        numbers = [v for v in values if isinstance(v, int)]
        if numbers:
            _put(merged, path, sum(numbers))
    merged["blkio_stats"] = {
        "io_service_bytes_recursive": [
            entry
            for frame in frames
            for entry in (frame.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
        ]
    }
    for index, frame in enumerate(frames):
        for interface, counters in (frame.get("networks") or {}).items():
            merged["networks"][f"{index}:{interface}"] = counters
    return merged


def _get(frame: Mapping[str, Any], path: tuple[str, ...]) -> object:
    value: object = frame
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _put(frame: dict[str, Any], path: tuple[str, ...], value: int) -> None:
    for key in path[:-1]:
        frame = frame.setdefault(key, {})
    frame[path[-1]] = value
