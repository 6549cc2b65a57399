"""A re-indexer's catch-up on every replica (a Swarm service's tasks): each task's own height,
read where it answers, and the colour's height is the lowest of them.

Only for a progress source read over HTTP from the colour itself (`http://127.0.0.1:{host_port}…`,
drivers/progress.make_task_source): a database or the logs are the colour's as a whole. The lag is
then the head (the highest any task reports, or the independent [head]) minus the slowest task's
height, so the catch-up condition holds only when every task is within `max_lag`; a task that
cannot be read makes the whole reading fail (the gate never counts it), and a task rescheduled
onto another node is read from its first answer on.
"""

from __future__ import annotations

from collections.abc import Callable

from console.core.contracts.progress import ProgressSource, Reading, SourceUnavailable
from console.core.contracts.runtime import ReplicaSet


class TaskProgress:
    """One source per replica endpoint, kept while the endpoint runs a counting task."""

    def __init__(self, make: Callable[[str], ProgressSource | None]) -> None:
        self._make = make
        self._sources: dict[str, ProgressSource] = {}
        # Whether this source kind reads each replica (else: None, read the colour).
        probe = make("127.0.0.2:1")
        self.per_task = probe is not None
        if probe is not None:
            probe.close()

    def read(self, replicas: ReplicaSet) -> Reading:
        endpoints = sorted({task.endpoint for task in replicas.counting if task.endpoint})
        for gone in set(self._sources) - set(endpoints):
            self._sources.pop(gone).close()
        if not endpoints:
            raise SourceUnavailable("no replica is running to read its height from")
        readings = [self._source(endpoint).read() for endpoint in endpoints]
        heights = [r.height for r in readings]
        heads = [r.head for r in readings if r.head is not None]
        # One replica with no height yet: the colour has none (its slowest has not started).
        height = None if None in heights else min(h for h in heights if h is not None)
        return Reading(height, max(heads) if heads else None)

    def _source(self, endpoint: str) -> ProgressSource:
        source = self._sources.get(endpoint)
        if source is None:
            made = self._make(endpoint)
            assert made is not None  # per_task: every endpoint has one
            source = self._sources[endpoint] = made
        return source

    def close(self) -> None:
        for source in self._sources.values():
            source.close()
        self._sources.clear()
