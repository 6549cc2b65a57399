"""What the Swarm runtime's tests and bench/swarm_switch.py build on a three-node Swarm bed
(console/sandbox/swarm): the tests use the session's bed (tests/swarm_bed.py); the benchmark
brings up its own (`swarm_bed`, removed afterwards, also after a failure). Configurations for the
web stand-in on it, one as dataclasses, one as the TOML an operator writes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from console.core.config.schema import (
    Config,
    ImageConfig,
    ReadinessConfig,
    RuntimeConfig,
    SlotConfig,
)
from console.core.config.swarm import SwarmConfig
from console.core.contracts.runtime import ContainerSpec
from console.sandbox.images import WEBAPP_REPOSITORY, build_image
from console.sandbox.swarm import BedSpec, SwarmBed, down, up
from console.sandbox.swarm.spec import TEST_DIRECTORY

IMAGES = (f"{WEBAPP_REPOSITORY}:v1", f"{WEBAPP_REPOSITORY}:v2")
READY_AFTER_SECONDS = 3  # each fresh replica answers 503 on its ready path this long


@contextmanager
def swarm_bed(prefix: str, subnet: str) -> Iterator[SwarmBed]:
    for ref in IMAGES:
        build_image(ref.rsplit(":", 1)[1], repository=WEBAPP_REPOSITORY)
    spec = BedSpec(TEST_DIRECTORY / prefix, prefix, subnet)
    bed = up(spec, IMAGES, say=lambda line: None)
    try:
        yield bed
    finally:
        down(spec)


def swarm_config(
    bed: SwarmBed, tmp: Path, ports: tuple[int, int], replicas: int = 3, **readiness: object
) -> Config:
    """A web service on the bed: blue and green each a service of `replicas` tasks."""
    prefix = "swrt"  # not the bed's: other modules share the session's bed
    slots = {
        "blue": SlotConfig(container=f"{prefix}-blue", host_port=ports[0]),
        "green": SlotConfig(container=f"{prefix}-green", host_port=ports[1]),
    }
    return Config(
        service="swrtweb",
        state_dir=str(tmp / "state"),
        image=ImageConfig(
            repository=WEBAPP_REPOSITORY,
            env={"PORT": "8080", "READY_AFTER_SECONDS": str(READY_AFTER_SECONDS)},
            stop_timeout_seconds=3,
            start_timeout_seconds=120,
        ),
        slots=slots,
        readiness=ReadinessConfig(
            **{
                "health_path": "/api/health/ready",
                "health_expect": "ready",
                "hold_seconds": 0.0,
                "min_ready_seconds": 2.0,
                "log_pattern": "",
                "smoke_path": "",
                "leave_after_seconds": 0.0,
                **readiness,
            }  # type: ignore[arg-type]
        ),
        runtime=RuntimeConfig(kind="swarm", docker_host=bed.manager.docker_host),
        swarm=SwarmConfig(replicas=replicas),
    )


def web_spec(config: Config, color: str, version: str) -> ContainerSpec:
    slot = config.slots[color]
    return ContainerSpec(
        name=slot.container,
        image=f"{WEBAPP_REPOSITORY}:{version}",
        command=[],
        env={**config.image.env, "VERSION": version},
        labels={"bluegreen.color": color, "bluegreen.version": version},
        host_port=slot.host_port,
        container_port=8080,
        stop_timeout=3,
    )


def wait_for(what: str, check: Callable[[], object], seconds: float, pause: float = 0.5) -> object:
    """`check()`'s first truthy answer; AssertionError naming `what` after `seconds` (a bound
    against a hang, never a measure)."""
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(pause)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s (last: {last!r})")


def swarm_toml(
    bed: SwarmBed,
    directory: Path,
    ports: tuple[int, int, int],
    nginx_argv: list[str],
    names: tuple[str, str],
    replicas: int = 3,
) -> str:
    """A hand-written bluegreen.toml for the web stand-in on the bed, behind nginx in live mode
    (`ports`: the proxy's, blue's and green's)."""
    argv = ", ".join(f'"{a}"' for a in nginx_argv)
    engines = ", ".join(f'{node.name} = "{node.docker_host}"' for node in bed.nodes)
    proxy, blue, green = ports
    return f"""service = "swrtweb"
state_dir = "{directory / "state"}"

[image]
repository = "{WEBAPP_REPOSITORY}"
env = {{ PORT = "8080", READY_AFTER_SECONDS = "{READY_AFTER_SECONDS}" }}
container_port = 8080
stop_timeout_seconds = 3
start_timeout_seconds = 120

[runtime]
kind = "swarm"
docker_host = "{bed.manager.docker_host}"

[swarm]
replicas = {replicas}
max_per_node = 1
engines = {{ {engines} }}

[candidate]
kind = "none"

[slots.blue]
container = "{names[0]}"
host_port = {blue}

[slots.green]
container = "{names[1]}"
host_port = {green}

[readiness]
health_path = "/api/health/ready"
health_expect = "ready"
min_ready_seconds = 2
log_pattern = ""
smoke_method = "GET"
smoke_path = "/"
sample_interval_seconds = 1.0

[proxy]
kind = "nginx"
mode = "live"
include_dir = "{directory / "nginx" / "bluegreen"}"
proxy_url = "http://127.0.0.1:{proxy}"
test_command = [{argv}, "-t", "-q"]
reload_command = [{argv}, "-s", "reload"]

[switch]
policy = "confirm"
keep_previous_seconds = 0
"""
