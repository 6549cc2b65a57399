"""One container's inspect, kept while the engine's events say nothing happened to it.

An idle service's full tick asked Docker about both its containers every few seconds and nearly
always heard the same thing: at 20 services, 13 inspects a second. With a runtime that follows
the engine's event stream (core/contracts/runtime.ContainerChanges; Docker's, drivers/docker/
events.py) the token taken before an inspect stays the current one until an event about that
container arrives, the stream reconnects or the engine stops answering its ping: until then the
last inspect is still what Docker would say, and is returned without asking. Once every
`REFRESH_SECONDS` the container is inspected all the same, so a stream that lost an event
without breaking (it should not) costs at most that long.

What the reading means does not change: a kept inspect is returned only after the engine
answered (its ping), so a stalled daemon still leaves the Docker part waiting and shows stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from console.core.contracts.offers import offers
from console.core.contracts.runtime import ContainerChanges, ContainerInfo, KeptChanges, Runtime

REFRESH_SECONDS = 15.0


class InspectCache:
    """`read()` is the Docker sampler's read for one container (agent/slot_watch.py)."""

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        name: str,
        refresh_seconds: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._token: object | None = None
        self._info: ContainerInfo | None = None
        self._at = -float("inf")
        self.inspected = 0  # reads that asked the engine (for tests and the bench)
        self.kept = 0  # reads answered from the last inspect

    def known(self) -> tuple[bool, ContainerInfo | None]:
        """The Docker sampler's `kept`: (True, the last inspect) when the runtime vouches right
        now, without asking the engine, that nothing happened to the container since, and no
        refresh is due; (False, None) to read on the sampler's thread. Never blocks."""
        if self._token is None:  # nothing kept (and the engine's runtime maybe never opened)
            return False, None
        runtime = self.runtime()
        if not offers(runtime, KeptChanges):  # type: ignore[type-abstract]
            return False, None
        if self.clock() - self._at >= self.refresh_seconds:
            return False, None
        if runtime.fresh_change_token(self.name) != self._token:
            return False, None
        self.kept += 1
        return True, self._info

    def read(self) -> ContainerInfo | None:
        runtime = self.runtime()
        changes: ContainerChanges | None = None
        if offers(runtime, ContainerChanges):  # type: ignore[type-abstract]
            changes = runtime
        # Taken before the inspect: an event that arrives during it makes the next read ask.
        token = changes.change_token(self.name) if changes is not None else None
        now = self.clock()
        if token is not None and token == self._token and now - self._at < self.refresh_seconds:
            self.kept += 1
            return self._info
        self._token = None  # an inspect that fails keeps nothing
        info = runtime.inspect(self.name)
        self._token, self._info, self._at = token, info, now
        self.inspected += 1
        return info
