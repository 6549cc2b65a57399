"""What the core asks of a container engine: the `Runtime` Protocol, what a container is asked to be
(`ContainerSpec`), what the engine reports (`ContainerInfo`), and the errors every runtime raises.

`console/drivers/docker/` implements it for the Docker Engine (and Podman's Docker API),
`console/drivers/swarm/` for Docker Swarm, each one row in `console.wiring.RUNTIMES`. The core and
the agent see only this module.

A runtime that runs a colour as several replicas (Swarm: one service, many tasks on many nodes)
also implements `ReplicatedRuntime`: what each replica is, on which node, and where it answers.
The readiness gate checks every replica there, and the proxy routes to those addresses; a runtime
without it (Docker, Podman) is one replica at 127.0.0.1:host_port, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from console.core.contracts.offers import offers


class ContainerRuntimeError(Exception):
    """Base of every runtime's errors; str() is one sentence an operator can act on."""


class RuntimeUnavailable(ContainerRuntimeError):
    """The container engine cannot be reached (not running, no permission, not answering)."""


class RuntimeNotAnswering(RuntimeUnavailable):
    """The container engine accepted the connection but did not answer within its bound (hung,
    stopped or overloaded): a stall, not an outage."""


class ImageNotFound(ContainerRuntimeError):
    """The image is neither on this host, nor loadable from the given tar, nor pullable."""


class RegistryRefused(ImageNotFound):
    """The registry refused the pull: wrong or missing credentials, or a certificate this host
    does not trust. str() names the registry and what to do, never a password."""


class ImageInUse(ContainerRuntimeError):
    """The engine refused to remove an image because a container (running or not) uses it."""


class ContainerRunning(ContainerRuntimeError):
    """`start` was asked to create a container whose name belongs to a running container."""


class ContainerFailed(ContainerRuntimeError):
    """The engine refused an operation on a container (port taken, bad command, …)."""


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything needed to (re)create one colour's container."""

    name: str
    image: str
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    host_port: int
    container_port: int
    network: str = ""  # "" = the default bridge
    restart_policy: str = "unless-stopped"  # no | always | unless-stopped | on-failure[:N]
    extra_hosts: dict[str, str] = field(default_factory=dict)  # e.g. {"db": "host-gateway"}
    stop_timeout: int = 30  # seconds between SIGTERM and SIGKILL
    # A tiny init as PID 1 forwards SIGTERM: a service without its own handler (PID 1 ignores
    # SIGTERM by default) then stops at once instead of waiting stop_timeout for SIGKILL.
    init: bool = True
    ulimits: dict[str, str] = field(default_factory=dict)  # {"nofile": "SOFT:HARD"}
    nano_cpus: int | None = None  # CPU cap in 1e-9 cores ([image] cpus); None = no limit
    mem_limit: int | None = None  # memory cap in bytes ([image] memory); None = no limit
    entrypoint: list[str] | None = None  # None = the image's (a hook's migration may replace it)


@dataclass(frozen=True, slots=True)
class ImageArrival:
    """How an image came to be on this host for a deployment, for its history."""

    id: str
    how: str  # "present" (already here), "loaded" (from a tar) or "pulled"
    seconds: float  # the load or pull; 0 when present
    size_bytes: int | None  # the image's size on this host, as `docker images` shows it
    registry: str = ""  # where it was pulled from; "" unless pulled
    credentials: str = ""  # "secrets", "engine config" or "none"; "" unless pulled
    finished_at: float = 0.0  # wall clock when it was here (epoch seconds)


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """A container as the engine reports it now."""

    name: str
    id: str
    image: str  # the reference it was created from, e.g. "explorer:v1.5.0"
    labels: dict[str, str]
    state: str  # running, exited, restarting, created, paused, dead, removing
    running: bool
    exit_code: int | None  # None while running or never started
    health: str | None  # healthy, unhealthy, starting; None without a HEALTHCHECK
    restart_count: int
    started_at: float | None
    finished_at: float | None
    error: str | None  # the engine's error (e.g. exec failure), generically redacted
    oom_killed: bool
    # Its main process on the engine's host (0 when not running) and whether it shares the
    # host's network: what a local reader of its counters needs (drivers/docker/cgroup_usage.py).
    pid: int = 0
    host_network: bool = False


@dataclass(frozen=True, slots=True)
class OneOffResult:
    """How a one-off container (a hook's migration) ended."""

    exit_code: int | None  # None when it was stopped at its timeout
    timed_out: bool


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """One tag of an image on this host, as the engine reports it."""

    ref: str  # repository:tag, e.g. "explorer:v1.5.0"
    id: str  # the image id ("sha256:…"); several tags may share one
    created: float  # epoch seconds the image was built
    size: int  # bytes on disk (layers shared with other images counted in full)
    tags: int = 1  # how many tags the image has, in any repository (removing one of several
    # only untags it)


class Runtime(Protocol):
    """One engine on one host. Every call is bounded: an engine that does not answer in time
    raises RuntimeNotAnswering, one that cannot be reached RuntimeUnavailable (each a sentence)."""

    @property
    def where(self) -> str:
        """The engine's address as the operator would write it (e.g. unix:///var/run/docker.sock)."""
        ...

    def ping(self) -> bool:
        """True when the engine answers now; never raises."""
        ...

    def ensure_image(self, ref: str, tar_path: str | None = None) -> str:
        """Make `ref` present: already here, loaded from `tar_path`, or pulled; the reference."""
        ...

    def provide_image(self, ref: str, tar_path: str | None = None) -> ImageArrival:
        """`ensure_image`, and how: present, loaded or pulled (with the registry's credentials,
        the time it took and the size); RegistryRefused when the registry turned it away."""
        ...

    def image_labels(self, ref: str) -> dict[str, str]:
        """The labels an image carries ({} when it has none or is not here)."""
        ...

    def list_images(self, repository: str) -> list[ImageInfo]:
        """Every tag of `repository` on this host (one ImageInfo per tag), newest first."""
        ...

    def image_ids_in_use(self) -> set[str]:
        """The image ids of every running container on this host (anyone's, not only ours)."""
        ...

    def remove_image(self, ref: str) -> None:
        """Remove the tag `ref` (the image too once no tag is left); nothing when it is absent;
        ImageInUse when a container still uses it (never forced)."""
        ...

    def start(self, spec: ContainerSpec) -> ContainerInfo:
        """(Re)create and start one container as `spec` says; ContainerRunning if its name is
        taken by a running container."""
        ...

    def inspect(self, name: str) -> ContainerInfo | None:
        """The container now, or None when there is none of that name."""
        ...

    def list_by_label(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        """Every container (running or not) carrying `label` (with `value`, if given)."""
        ...

    def stop(self, name: str, timeout: int | None = None) -> None:
        """SIGTERM, then SIGKILL after `timeout` s (the spec's stop_timeout when None)."""
        ...

    def remove(self, name: str) -> None:
        """Remove the container (stopping it first); nothing when it does not exist."""
        ...

    def run_to_completion(
        self, spec: ContainerSpec, timeout: float, on_line: Callable[[bytes], None]
    ) -> OneOffResult:
        """Run `spec` once (no published port, never restarted): each output line, raw, to
        `on_line` as it is written; after `timeout` s it is stopped (SIGTERM, SIGKILL after its
        stop_timeout). Removed whatever happened; a stopped container of that name is replaced."""
        ...

    def exec_ok(self, name: str, argv: list[str]) -> bool:
        """Run `argv` inside the container; True when it exits 0."""
        ...

    def logs(self, name: str, tail: int = 300, since: float | None = None) -> list[bytes]:
        """The container's last `tail` log lines (since `since`, epoch seconds), raw."""
        ...

    def follow_logs(self, name: str, stop: threading.Event, tail: int = 0) -> Iterator[bytes]:
        """Log lines as they are written, until `stop` is set or the container goes."""
        ...

    def stats_frames(self, name: str) -> Iterator[Mapping[str, Any]]:
        """The engine's resource documents for the container, one a second, in the Docker Engine
        API's stats shape (which Podman's Docker API and Swarm tasks share)."""
        ...


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """One replica of a colour, as the scheduler reports it now (a Swarm task)."""

    id: str
    node: str  # the node's hostname ("" while not yet assigned)
    address: str  # where the node answers (its advertised address); "" while unassigned
    port: int  # the port it publishes on that node (host mode); 0 = none
    state: str  # the scheduler's: new, pending, assigned, preparing, starting, running, failed…
    desired: str  # what the scheduler wants of it: running, shutdown, ready…
    node_up: bool  # the node is Ready (a Down node's tasks are never counted)
    error: str | None = None  # the scheduler's error for it, redacted
    started_at: float | None = None  # when it last changed state (the scheduler's timestamp)
    container_id: str = ""  # its container on that node's engine ("" until it has one)
    outage: str = ""  # it died with its node, and how ("node w2's engine restarted"); "" = no

    @property
    def counts(self) -> bool:
        """Whether this task is one of the colour's replicas now: running, meant to run, on a
        node that is up. A task on a dead node may still read "running" (its last report)."""
        return self.state == "running" and self.desired == "running" and self.node_up

    @property
    def endpoint(self) -> str:
        """HOST:PORT where the replica answers; "" when it publishes nothing or has no node."""
        return f"{self.address}:{self.port}" if self.address and self.port else ""


@dataclass(frozen=True, slots=True)
class ReplicaSet:
    """A colour's replicas: how many are wanted and every task the scheduler knows of now."""

    desired: int
    tasks: tuple[TaskInfo, ...] = ()

    @property
    def counting(self) -> tuple[TaskInfo, ...]:
        """The tasks that count, one per id (never a task twice, never a dead one)."""
        seen: dict[str, TaskInfo] = {}
        for task in self.tasks:
            if task.counts:
                seen.setdefault(task.id, task)
        return tuple(sorted(seen.values(), key=lambda task: (task.node, task.id)))

    @property
    def complete(self) -> bool:
        """As many counting tasks as wanted (and at least one)."""
        return self.desired > 0 and len(self.counting) >= self.desired


@runtime_checkable
class ReplicatedRuntime(Protocol):
    """A runtime whose colours run as several replicas (Docker Swarm)."""

    def replicas(self, name: str) -> ReplicaSet | None:
        """The colour `name`'s replicas now; None when there is no such colour."""
        ...

    def inspect_replicas(self, name: str) -> tuple[ContainerInfo | None, ReplicaSet | None]:
        """`inspect(name)` and `replicas(name)` from one read of the scheduler (a watcher's
        tick): the same service and tasks, never read twice."""
        ...


def replicas_of(runtime: Runtime, name: str) -> ReplicaSet | None:
    """`name`'s replicas when `runtime` schedules several; None for a one-container runtime."""
    if offers(runtime, ReplicatedRuntime):  # type: ignore[type-abstract]
        return runtime.replicas(name)
    return None


@runtime_checkable
class ContainerChanges(Protocol):
    """A runtime that can say a container has not changed since it was last inspected (the
    Docker Engine's event stream), so a watcher keeps its last inspect instead of asking again
    every tick. Optional: a runtime without it is inspected each time."""

    def change_token(self, name: str) -> object | None:
        """A value that differs once anything happened to container `name` after it was taken;
        None when the runtime cannot vouch for that now (its event stream is down). Raises as
        `inspect` does when the engine does not answer."""
        ...


@runtime_checkable
class KeptChanges(Protocol):
    """A `ContainerChanges` runtime that can also hand out a token without any I/O, when it has
    one it can vouch for right now (the engine answered a ping this second), so a watcher's
    kept inspect is returned on the asking thread, waking no sampler. Optional."""

    def fresh_change_token(self, name: str) -> object | None:
        """`change_token(name)` when known at once; None when it would have to ask (never
        blocks, never raises)."""
        ...
