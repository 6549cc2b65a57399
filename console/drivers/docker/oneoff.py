"""A one-off container run to completion, mixed into DockerRuntime: a hook's migration
(console/core/hooks/). Its lines are followed as written; it is stopped at its timeout and removed
whatever happened, so nothing of it outlives the hook."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors

from console.core.contracts.runtime import (
    ContainerFailed,
    ContainerInfo,
    ContainerRunning,
    ContainerRuntimeError,
    ContainerSpec,
    OneOffResult,
)

_POLL_SECONDS = 0.2  # how often the container's state is read while it runs
_DRAIN_SECONDS = 5.0  # after it ends: how long its last lines may take to arrive


class OneOffMixin:
    """Needs DockerRuntime's bounded calls, `_create` and its container methods."""

    _call: Callable[..., Any]
    change_timeout: float
    _create: Callable[[ContainerSpec], str]
    inspect: Callable[[str], ContainerInfo | None]
    stop: Callable[..., None]
    remove: Callable[[str], None]
    follow_logs: Callable[..., Iterator[bytes]]
    _explain: Callable[[docker.errors.DockerException], str]

    def run_to_completion(
        self, spec: ContainerSpec, timeout: float, on_line: Callable[[bytes], None]
    ) -> OneOffResult:
        existing = self.inspect(spec.name)
        if existing is not None:
            if existing.running or existing.state in ("restarting", "paused"):
                raise ContainerRunning(
                    f"Container {spec.name} is already {existing.state} (a hook still running "
                    f"from an earlier operation?). Wait for it or remove it (`docker rm -f "
                    f"{spec.name}`), then retry."
                )
            self.remove(spec.name)
        container_id = self._create(spec)
        stop = threading.Event()
        follower = threading.Thread(
            target=self._pump, args=(spec.name, stop, on_line), name=f"hook-{spec.name}"
        )
        try:
            try:
                self._call(lambda client: client.api.start(container_id), self.change_timeout)
            except docker.errors.APIError as exc:
                raise ContainerFailed(
                    f"Container {spec.name} could not start: {self._explain(exc)}."
                ) from None
            follower.start()
            result = self._wait(spec, time.monotonic() + timeout)
            follower.join(_DRAIN_SECONDS)  # the stream ends with the container
            return result
        finally:
            stop.set()
            with contextlib.suppress(ContainerRuntimeError):
                self.remove(spec.name)

    def _wait(self, spec: ContainerSpec, deadline: float) -> OneOffResult:
        while True:
            info = self.inspect(spec.name)
            if info is None:
                raise ContainerFailed(f"Container {spec.name} vanished while it ran.")
            if not info.running and info.state not in ("created", "restarting"):
                return OneOffResult(exit_code=info.exit_code, timed_out=False)
            if time.monotonic() >= deadline:
                self.stop(spec.name, timeout=spec.stop_timeout)  # SIGTERM, then SIGKILL
                return OneOffResult(exit_code=None, timed_out=True)
            time.sleep(_POLL_SECONDS)

    def _pump(self, name: str, stop: threading.Event, on_line: Callable[[bytes], None]) -> None:
        # tail=-1: every line since the start (the docker SDK's "all")
        for line in self.follow_logs(name, stop, tail=-1):
            on_line(line)
