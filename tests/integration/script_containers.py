"""Containers that run a small Python script on the local base image, for integration tests.

Each test file names its containers with its own prefix; `sweep(prefix)` removes every one of
them (leftovers of a crashed run included), and `script_container` starts one and sweeps after.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import docker

from console.core.contracts.runtime import ContainerSpec
from console.drivers.docker.runtime import DockerRuntime
from console.sandbox.images import BASE_IMAGE, ensure_base_image


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sweep(prefix: str) -> None:
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"name": prefix}):
            if container.name.startswith(prefix):
                container.remove(force=True)
    finally:
        client.close()


def script_spec(name: str, script: str, host_port: int, **overrides: object) -> ContainerSpec:
    """`python3 -u -c script` on the base image, its port 8080 published on `host_port`."""
    fields: dict[str, object] = {
        "name": name,
        "image": BASE_IMAGE,
        "command": ["python3", "-u", "-c", script],
        "host_port": host_port,
        "container_port": 8080,
        "stop_timeout": 2,
    }
    fields.update(overrides)
    return ContainerSpec(**fields)  # type: ignore[arg-type]


@contextlib.contextmanager
def script_container(
    prefix: str, name: str, script: str, **overrides: object
) -> Iterator[tuple[str, int]]:
    """Start `script` in a container named prefix+name on a free port; yield (name, port)."""
    sweep(prefix)
    ensure_base_image()
    port = free_port()
    spec = script_spec(prefix + name, script, port, **overrides)
    DockerRuntime().start(spec)
    try:
        yield spec.name, port
    finally:
        sweep(prefix)
