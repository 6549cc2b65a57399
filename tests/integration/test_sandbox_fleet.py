"""Issue 23, point 7: `sandbox up --profile fleet` stands up the explorer, web and evm services as
one configuration directory behind ONE nginx — each service on its own port, its own containers
carrying its name, v1 live in blue through its own proxy URL — and `sandbox down` leaves nothing
(no container, no process, no directory)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from console.core.config.fleet import load_fleet
from console.core.installation import LABEL_SERVICE
from console.core.model import SlotState
from console.sandbox.procs import process_alive
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PORT_BASE = ports.FLEET_SANDBOX.start
COLOURS = ("blue", "green")
SERVICES = {"explorer": PORT_BASE, "web": PORT_BASE + 3, "evm": PORT_BASE + 6}


@pytest.fixture(scope="module")
def fleet() -> Iterator[Sandbox]:
    world = bring_up(history=2000, profile="fleet", port_base=PORT_BASE)
    try:
        yield world
    finally:
        if world.dir.exists():  # the last test tears it down and checks what is left
            tear_down(world.dir)


def nginx_masters(directory: Path) -> list[int]:
    """nginx master processes on the sandbox's nginx.conf (a master rewrites its command line
    to one string, `nginx: master process nginx -p … -c …`; its workers say `worker process`)."""
    conf = str(directory / "nginx" / "nginx.conf")
    found = []
    for entry in Path("/proc").iterdir():
        try:
            line = (entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
        except OSError:
            continue
        if entry.name.isdigit() and line.startswith("nginx: master process") and conf in line:
            found.append(int(entry.name))
    return found


def test_one_directory_three_services_each_on_its_own_port(fleet: Sandbox) -> None:
    assert fleet.config == fleet.dir and fleet.config.is_dir()
    assert sorted(p.name for p in fleet.config.glob("*.toml")) == [
        "evm.toml",
        "explorer.toml",
        "host.toml",
        "web.toml",
    ]
    assert {name: s.proxy_url for name, s in fleet.services.items()} == {
        name: f"http://127.0.0.1:{port}" for name, port in SERVICES.items()
    }
    state = fleet.sandbox_status()
    assert state["up"] is True and state["profile"] == "fleet"
    assert set(state["services"]) == set(SERVICES)
    loaded = load_fleet(str(fleet.config))
    assert loaded.skipped == {} and set(loaded.names) == set(SERVICES)


def test_one_nginx_serves_every_service(fleet: Sandbox) -> None:
    masters = nginx_masters(fleet.dir)
    recorded = json.loads((fleet.dir / "sandbox.json").read_text())["pids"]["nginx"]
    assert masters == [recorded], f"nginx masters on the sandbox's conf: {masters}"
    conf = (fleet.dir / "nginx" / "nginx.conf").read_text()
    assert conf.count("server {") == len(SERVICES)
    for name, port in SERVICES.items():
        assert f"listen 127.0.0.1:{port};" in conf
        assert f"/nginx/bluegreen/{name}/bluegreen-http.conf;" in conf


def test_each_service_is_live_on_v1_through_its_own_proxy(fleet: Sandbox) -> None:
    for name, config in load_fleet(str(fleet.config)).services.items():
        console = open_console(config, read_only=True)
        try:
            status = console.status()
        finally:
            console.close()
        assert status.service == name
        assert status.live == "blue", f"{name}: live is {status.live}"
        blue = status.slots["blue"]
        assert blue.state == SlotState.LIVE and blue.image and blue.image.endswith(":v1"), blue
        assert fleet.served_by(name) == "blue", name
        assert httpx.get(f"{fleet.services[name].proxy_url}/health", timeout=5).status_code == 200


def test_each_services_containers_carry_its_name(fleet: Sandbox) -> None:
    client = docker.from_env()
    recorded = json.loads((fleet.dir / "sandbox.json").read_text())["services"]
    for name in SERVICES:
        assert recorded[name]["containers"] == [f"{name}-{PORT_BASE}-{c}" for c in COLOURS]
        labelled = client.containers.list(filters={"label": f"{LABEL_SERVICE}={name}"})
        ours = {
            c.name for c in labelled if c.name.endswith(tuple(f"-{PORT_BASE}-{c}" for c in COLOURS))
        }
        assert ours == {f"{name}-{PORT_BASE}-blue"}, (name, ours)  # green is empty after up


def test_down_leaves_nothing(fleet: Sandbox) -> None:
    recorded = json.loads((fleet.dir / "sandbox.json").read_text())
    pids = list(recorded["pids"].values())
    agents = [json.loads(p.read_text())["pid"] for p in (fleet.dir / "state").glob("**/agent.json")]
    tear_down(fleet.dir)  # strict: fails when `sandbox down` says something is left
    assert not fleet.dir.exists()
    assert [pid for pid in pids + agents if process_alive(pid)] == []
    client = docker.from_env()
    left = [
        c.name
        for name in SERVICES
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={name}"})
        if c.name.startswith(f"{name}-{PORT_BASE}-")
    ]
    assert left == []
