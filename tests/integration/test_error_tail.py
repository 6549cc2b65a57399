"""A colour's last error line from the real engine, fetched when a failure asks for it: a
container that logs an error (with a secret in it) and exits, one whose error scrolled out of the
last lines, one that never existed. Nothing is followed (console/agent/log_follower.py,
`ErrorTail`).

Containers are named `bgtest-tail-*` and removed by every test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.agent.log_follower import ErrorTail
from console.core.contracts.runtime import ContainerSpec
from console.core.redact import Redactor
from console.drivers.docker.runtime import DockerRuntime
from tests.integration.test_resource_stream import sweep, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BASE_IMAGE = "bluegreen-base:bookworm"
PREFIX = "bgtest-tail-"
SECRET = "hunter2-very-secret"


@pytest.fixture
def runtime(base_image: str) -> Iterator[DockerRuntime]:
    sweep(PREFIX)
    yield DockerRuntime()
    sweep(PREFIX)


def run_script(runtime: DockerRuntime, name: str, script: str) -> str:
    """Start a container running `script` in sh and wait until it has exited."""
    spec = ContainerSpec(
        name=PREFIX + name,
        image=BASE_IMAGE,
        command=["sh", "-c", script],
        env={},
        labels={},
        host_port=0,  # publishes nothing
        container_port=8080,
        restart_policy="no",
        stop_timeout=1,
    )
    runtime.start(spec)

    def exited() -> bool:
        info = runtime.inspect(spec.name)
        return info is not None and not info.running

    assert wait_for(exited, 30)
    return spec.name


def tail(runtime: DockerRuntime, name: str) -> ErrorTail:
    return ErrorTail(lambda: runtime, Redactor([SECRET]), name)


def test_a_crashed_container_is_explained_by_its_newest_error_line(
    runtime: DockerRuntime,
) -> None:
    name = run_script(
        runtime,
        "crash",
        f"echo starting; echo 'ERROR cannot reach db' >&2; "
        f"echo 'FATAL: password {SECRET} rejected' >&2; echo 'shutting down'; exit 3",
    )
    error = tail(runtime, name).last_error()
    assert error == "FATAL: password *** rejected", error


def test_an_error_scrolled_out_of_the_last_lines_explains_nothing(runtime: DockerRuntime) -> None:
    name = run_script(
        runtime, "scrolled", "echo 'ERROR early'; for i in $(seq 60); do echo fine $i; done"
    )
    assert tail(runtime, name).last_error() is None


def test_a_container_that_is_gone_has_no_line(runtime: DockerRuntime) -> None:
    watch = tail(runtime, PREFIX + "never-created")
    assert watch.last_error() is None
    assert watch.fetches == 1  # answered (nothing), not hung
