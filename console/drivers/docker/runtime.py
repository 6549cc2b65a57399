"""The container runtime: a thin, restart-proof layer over the Docker Engine API (docker SDK 7.x).

What it adds over the SDK: operator-grade errors (one sentence, no traceback), a client that
survives the daemon restarting under it (every call rebuilds the client once on a connection error),
loopback-only port bindings, never replacing a running container by accident, and log following
that another thread can stop at once.

Logs come back as raw `bytes` lines, exactly as the container wrote them — colour codes, secrets
and all. Callers must pass each line through `console.core.redact.sanitize_log_line` before
showing, storing or matching on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import docker
import docker.errors
import docker.types
import requests.exceptions

from console.core import timeouts
from console.core.config.registry import RegistryConfig
from console.core.contracts.runtime import (
    ContainerFailed,
    ContainerInfo,
    ContainerRunning,
    ContainerRuntimeError,
    ContainerSpec,
    ImageNotFound,
    RuntimeNotAnswering,
    RuntimeUnavailable,
)
from console.core.redact import Redactor
from console.drivers.docker.events import ChangesMixin
from console.drivers.docker.images import ImagesMixin
from console.drivers.docker.lean_reads import LeanReadsMixin, handled
from console.drivers.docker.model import container_info, restart_policy
from console.drivers.docker.oneoff import OneOffMixin
from console.drivers.docker.registry import RegistryMixin
from console.drivers.docker.streams import StreamsMixin

DEFAULT_SOCKET = "unix:///var/run/docker.sock"

T = TypeVar("T")


class DockerRuntime(
    StreamsMixin, RegistryMixin, OneOffMixin, ImagesMixin, LeanReadsMixin, ChangesMixin
):
    """Docker Engine access for one host. Thread-safe; clients are created on first use.

    Every call is bounded (console/core/timeouts.py): reads by `timeout`, changes by
    `change_timeout`, image loads and pulls by `image_timeout`. The SDK's timeout is per client,
    so there is one client per bound. A call that runs out of its bound raises
    RuntimeNotAnswering, whose sentence starts "The Docker Engine did not answer within N s".
    """

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float = timeouts.DOCKER_READ_SECONDS,
        redactor: Redactor | None = None,
        *,
        change_timeout: float = timeouts.DOCKER_CHANGE_SECONDS,
        image_timeout: float = timeouts.DOCKER_IMAGE_SECONDS,
        registry: RegistryConfig | None = None,
        repository: str = "",
    ) -> None:
        """`registry`, `repository`: the credentials pulls send (registry.py)."""
        self._base_url = base_url
        self.read_timeout = timeout
        self.change_timeout = max(change_timeout, timeout)
        self.image_timeout = max(image_timeout, self.change_timeout)
        self._redactor = redactor or Redactor()  # engine errors may quote a command line
        self.registry = registry or RegistryConfig()
        self.repository = repository
        self._clients: dict[float, docker.DockerClient] = {}
        self._lock = threading.Lock()
        self._lean_http, self._lean_lock = None, threading.Lock()  # lean_reads.py

    @property
    def where(self) -> str:
        return self._base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET

    # ── connection ───────────────────────────────────────────────────────────────────────────

    def _connect(self, timeout: float) -> docker.DockerClient:
        with self._lock:
            client = self._clients.get(timeout)
            if client is None:
                try:
                    # Building a client asks the engine its API version: bounded like the call.
                    if self._base_url:
                        client = docker.DockerClient(base_url=self._base_url, timeout=timeout)
                    else:
                        client = docker.from_env(timeout=timeout)
                except docker.errors.DockerException as exc:
                    if _is_timeout(exc):
                        raise self._not_answering(timeout) from None
                    raise self._unavailable(exc) from None
                _skip_proxy_lookup(client)
                self._clients[timeout] = client
            return client

    def _drop_client(self, stale: docker.DockerClient) -> None:
        with self._lock:
            for timeout, client in list(self._clients.items()):
                if client is stale:
                    del self._clients[timeout]
        with contextlib.suppress(Exception):
            stale.close()

    def _call(
        self, operation: Callable[[docker.DockerClient], T], timeout: float | None = None
    ) -> T:
        """Run `operation` within `timeout` (default: the read bound); after a connection error
        (daemon restarted) rebuild the client once.

        urllib3 already replaces pooled connections it can see were closed; this covers the
        request that was on the wire when the daemon went away, and a client built while it was
        down. Retrying is safe: every operation here is idempotent or re-checked by its caller.
        A timeout is never retried: a hung engine would only double the wait.
        """
        bound = self.read_timeout if timeout is None else timeout
        for attempt in (1, 2):
            client = self._connect(bound)
            try:
                return operation(client)
            except requests.exceptions.Timeout:  # before ConnectionError: ConnectTimeout is both
                raise self._not_answering(bound) from None
            except requests.exceptions.ConnectionError as exc:
                self._drop_client(client)
                if _is_timeout(exc):
                    raise self._not_answering(bound) from None
                if attempt == 2:
                    raise self._unavailable(exc) from None
        raise AssertionError("unreachable")

    def _not_answering(self, bound: float) -> RuntimeNotAnswering:
        return RuntimeNotAnswering(
            f"The Docker Engine did not answer within {timeouts.seconds_text(bound)} s; it is "
            f"hung or overloaded (check `systemctl status docker` and the load on this host; "
            f"engine at {self.where}), then retry."
        )

    def _unavailable(self, exc: Exception) -> RuntimeUnavailable:
        if "Permission denied" in str(exc):
            return RuntimeUnavailable(
                f"Docker Engine at {self.where} refused this user (permission denied). Run as "
                "root or as a member of the docker group, and retry."
            )
        return RuntimeUnavailable(
            f"Docker Engine is not reachable at {self.where} (connection failed). "
            "Start it (`sudo systemctl start docker`) and retry."
        )

    def ping(self) -> bool:
        """True when the engine answers; never raises."""
        try:
            return bool(self._call(lambda client: client.ping()))
        except (ContainerRuntimeError, docker.errors.DockerException):
            return False

    # ── images ───────────────────────────────────────────────────────────────────────────────

    def ensure_image(self, ref: str, tar_path: str | None = None) -> str:
        """Make `ref` present on this host and return its id: already there, loaded from
        `tar_path` (a `docker save` archive), or pulled — else raise ImageNotFound."""
        return self.provide_image(ref, tar_path).id

    def image_labels(self, ref: str) -> dict[str, str]:
        """The image's labels (e.g. org.opencontainers.image.version); ImageNotFound if absent."""
        try:
            image = self._call(lambda client: client.images.get(ref))
        except docker.errors.ImageNotFound:
            raise ImageNotFound(
                f"Image {ref} is not on this host. Load or pull it first."
            ) from None
        return dict(image.labels or {})

    def _image_id(self, ref: str) -> str | None:
        try:
            return str(self._call(lambda client: client.images.get(ref)).id)
        except docker.errors.ImageNotFound:
            return None

    def _load(self, ref: str, tar_path: str) -> None:
        try:
            with open(tar_path, "rb") as archive:

                def load(client: docker.DockerClient) -> object:
                    archive.seek(0)  # a retry after a reconnect must resend the whole archive
                    return client.images.load(archive)

                self._call(load, self.image_timeout)
        except OSError as exc:
            raise ImageNotFound(
                f"Image {ref} is not on this host and its archive {tar_path} cannot be read "
                f"({exc.strerror}). Fix the path or load it with `docker load -i FILE`."
            ) from None
        except docker.errors.DockerException as exc:  # APIError, ImageLoadError
            raise ImageNotFound(
                f"Loading {tar_path} failed ({self._explain(exc)}). Check that it is a "
                "`docker save` archive."
            ) from None

    # ── containers ───────────────────────────────────────────────────────────────────────────

    def start(self, spec: ContainerSpec) -> ContainerInfo:
        """Create and start `spec`. A stopped container of that name is replaced; a running one
        is never touched (ContainerRunning) — stopping a colour is a separate, explicit step."""
        existing = self.inspect(spec.name)
        if existing is not None:
            if existing.running or existing.state in ("restarting", "paused"):
                raise ContainerRunning(
                    f"Container {spec.name} is already {existing.state}. Stop it first "
                    "(or deploy to the other colour)."
                )
            self.remove(spec.name)
        container_id = self._create(spec)
        try:
            self._call(lambda client: client.api.start(container_id), self.change_timeout)
        except docker.errors.APIError as exc:
            # Don't leave a half-made container behind; the next start would remove it anyway.
            with contextlib.suppress(ContainerRuntimeError, docker.errors.APIError):
                self._call(
                    lambda client: client.api.remove_container(container_id, force=True),
                    self.change_timeout,
                )
            raise ContainerFailed(
                f"Container {spec.name} could not start: {self._explain(exc)}."
            ) from None
        info = self.inspect(spec.name)
        if info is None:
            raise ContainerFailed(f"Container {spec.name} vanished right after starting.")
        return info

    def _create(self, spec: ContainerSpec) -> str:
        def create(client: docker.DockerClient) -> str:
            # The low-level API: the high-level `run` cannot set stop_timeout.
            host_config = client.api.create_host_config(
                # host_port 0: a one-off container (oneoff.py) publishes nothing
                port_bindings={spec.container_port: ("127.0.0.1", spec.host_port)}
                if spec.host_port
                else None,
                restart_policy=restart_policy(spec.restart_policy),
                extra_hosts=spec.extra_hosts or None,
                network_mode=spec.network or None,
                init=spec.init,
                nano_cpus=spec.nano_cpus,
                mem_limit=spec.mem_limit,
                ulimits=[
                    docker.types.Ulimit(
                        name=name, soft=int(value.split(":")[0]), hard=int(value.split(":")[1])
                    )
                    for name, value in spec.ulimits.items()
                ]
                or None,
            )
            created = client.api.create_container(
                spec.image,
                command=spec.command,
                entrypoint=spec.entrypoint,
                name=spec.name,
                environment=spec.env,
                labels=spec.labels,
                ports=[spec.container_port] if spec.host_port else None,
                host_config=host_config,
                stop_timeout=spec.stop_timeout,
                detach=True,
            )
            return str(created["Id"])

        try:
            return self._call(create, self.change_timeout)
        except docker.errors.ImageNotFound:
            raise ImageNotFound(
                f"Image {spec.image} is not on this host. Load or pull it first."
            ) from None
        except docker.errors.APIError as exc:
            raise ContainerFailed(
                f"Container {spec.name} could not be created: {self._explain(exc)}."
            ) from None

    def inspect(self, name: str) -> ContainerInfo | None:
        """The container's current state, or None when there is no such container."""
        attrs = self.lean_inspect(name)  # a kept socket, not the SDK: asked every few seconds
        if not handled(attrs):
            try:
                attrs = self._call(lambda client: client.api.inspect_container(name))
            except docker.errors.NotFound:
                return None
        return container_info(attrs, self._redactor.redact) if attrs is not None else None

    def list_by_label(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        """All containers (running or not) carrying `label` (with `value`, when given)."""
        selector = label if value is None else f"{label}={value}"
        containers = self._call(
            lambda client: client.containers.list(
                all=True, filters={"label": selector}, ignore_removed=True
            )
        )
        return sorted(
            (container_info(c.attrs, self._redactor.redact) for c in containers),
            key=lambda info: info.name,
        )

    def stop(self, name: str, timeout: int | None = None) -> None:
        """SIGTERM, then SIGKILL after `timeout` s (default: the container's stop_timeout).
        A missing or already stopped container is fine."""
        info_timeout = timeout
        if info_timeout is None:
            try:
                attrs = self._call(lambda client: client.api.inspect_container(name))
            except docker.errors.NotFound:
                return
            info_timeout = int(attrs.get("Config", {}).get("StopTimeout") or 10)
        # Passed explicitly: the SDK's HTTP timeout is its own timeout + this one, so a container
        # with a long stop_timeout would otherwise look like a hung daemon.
        self._change(name, "stopped", lambda client: client.api.stop(name, timeout=info_timeout))

    def remove(self, name: str) -> None:
        """Remove the container (forcefully if it still runs). A missing container is fine."""
        self._change(
            name,
            "removed",
            lambda client: client.api.remove_container(name, force=True),
            # Someone else is removing it: the outcome we wanted.
            tolerate=lambda exc: (
                exc.status_code == 409 and "already in progress" in str(exc.explanation)
            ),
        )

    def _change(
        self,
        name: str,
        done: str,
        operation: Callable[[docker.DockerClient], object],
        tolerate: Callable[[docker.errors.APIError], bool] = lambda exc: False,
    ) -> None:
        """One change to a container, bounded by change_timeout: a container that is already gone
        is fine; the engine's refusal becomes ContainerFailed ("could not be `done`")."""
        try:
            self._call(operation, self.change_timeout)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if tolerate(exc):
                return
            raise ContainerFailed(
                f"Container {name} could not be {done}: {self._explain(exc)}."
            ) from None

    def exec_ok(self, name: str, argv: list[str]) -> bool:
        """Run `argv` inside the running container; True when it exits 0."""
        try:
            container = self._call(lambda client: client.containers.get(name))
            result = self._call(lambda client: container.exec_run(argv), self.change_timeout)
        except docker.errors.APIError:  # missing, not running
            return False
        return bool(result.exit_code == 0)

    # ── helpers ──────────────────────────────────────────────────────────────────────────────

    def _explain(self, exc: docker.errors.DockerException) -> str:
        text = getattr(exc, "explanation", None) or str(exc)
        return self._redactor.redact(str(text).strip().rstrip("."))


def _is_timeout(exc: BaseException) -> bool:
    """A read or connect timeout, however deep the SDK wrapped it (building a client wraps the
    version request's error in a DockerException)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.Timeout | TimeoutError):
            return True
        if "timed out" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _skip_proxy_lookup(client: docker.DockerClient) -> None:
    """Over the engine's own socket no HTTP proxy can apply, yet requests looks one up in the
    environment on every call (a third of an idle agent's inspect): tell it not to. A TCP engine
    keeps the lookup (HTTPS_PROXY / NO_PROXY may matter there)."""
    if client.api.base_url.startswith("http+docker://"):  # a unix socket (or ssh, npipe)
        client.api.trust_env = False
