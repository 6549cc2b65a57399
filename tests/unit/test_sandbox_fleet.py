"""The fleet sandbox's configuration, without Docker: a directory the fleet loader reads whole
(three services, each its own name, ports, containers, state and include directory, nothing
skipped), and its one nginx.conf (one server per service)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.config.fleet import load_fleet
from console.sandbox import world
from console.sandbox.nginx_proc import NginxProcess, Site
from console.sandbox.procs import SandboxError
from console.sandbox.profiles import PROFILE_NAMES, services_of
from console.sandbox.profiles.base import Context, Ports
from console.sandbox.profiles.fleet import MAX_SERVICES, member_context, member_ports

BASE = 28080


def fleet_dir(tmp_path: Path) -> Path:
    """What `sandbox up --profile fleet` writes, the explorer's secrets as its start writes them."""
    host = Context(tmp_path, Ports.from_base(BASE), 3000, 1500, "172.17.0.1", lambda _: None)
    members = [
        world.Member(name, kind, member_context(host, name, member_ports(BASE, index)))
        for index, (name, kind) in enumerate(services_of("fleet"))
    ]
    explorer = tmp_path / "explorer"
    explorer.mkdir()
    (explorer / "secrets.env").write_text(
        "".join(
            f"{n}_DB_URL=postgresql://u:pw@172.17.0.1:{BASE + 20}/{db}\n"
            f"{n}_HOST_DB_URL=postgresql://u:pw@127.0.0.1:{BASE + 20}/{db}\n"
            for n, db in (("SOURCE", "chain"), ("BLUE", "ex_blue"), ("GREEN", "ex_green"))
        )
    )
    world._configure(tmp_path, host, members, fleet=True)
    return tmp_path


def test_the_fleet_is_a_profile_of_three_services() -> None:
    assert "fleet" in PROFILE_NAMES
    assert [name for name, _ in services_of("fleet")] == ["explorer", "web", "evm"]
    assert [kind.name for _, kind in services_of("fleet")] == ["explorer", "web", "evm"]
    assert [name for name, _ in services_of("web")] == ["webapp"]


def test_each_service_has_its_own_ports_and_shares_the_hosts_parts() -> None:
    plans = [member_ports(BASE, i) for i in range(3)]
    assert [(p.proxy, p.blue, p.green) for p in plans] == [
        (28080, 28081, 28082),
        (28083, 28084, 28085),
        (28086, 28087, 28088),
    ]
    assert {(p.postgres, p.rpc, p.metrics) for p in plans} == {(28100, 28101, 28102)}
    with pytest.raises(SandboxError, match=f"at most {MAX_SERVICES} services"):
        member_ports(BASE, MAX_SERVICES)


def test_the_directory_loads_whole_with_each_service_apart(tmp_path: Path) -> None:
    fleet = load_fleet(str(fleet_dir(tmp_path)))
    assert fleet.directory and fleet.skipped == {}
    assert fleet.names == ["evm", "explorer", "web"]
    assert fleet.state_dir == str(tmp_path / "state")
    web, explorer, evm = (fleet.services[n] for n in ("web", "explorer", "evm"))
    assert web.proxy.proxy_url == "http://127.0.0.1:28083"
    assert evm.proxy.proxy_url == "http://127.0.0.1:28086"
    assert web.slots["blue"].container == "web-28080-blue"
    assert explorer.slots["green"].container == "explorer-28080-green"
    assert evm.slots["green"].host_port == 28088
    for name, config in fleet.services.items():
        assert config.service == name
        assert config.state_dir == str(tmp_path / "state" / name)
        assert config.proxy.include_dir == str(tmp_path / "nginx" / "bluegreen" / name)
        assert config.proxy.name == f"bluegreen_{name}"
        assert config.proxy.kind == "nginx" and config.proxy.mode == "live"
    # The explorer's database URLs come from the host's one secrets file.
    assert explorer.secrets_file == str(tmp_path / "secrets.env")
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600
    assert explorer.slots["blue"].host_db_url.endswith("/ex_blue")


def test_one_nginx_conf_serves_each_service_on_its_port(tmp_path: Path) -> None:
    fleet = load_fleet(str(fleet_dir(tmp_path)))
    sites = [
        Site(int(c.proxy.proxy_url.rsplit(":", 1)[1]), Path(c.proxy.include_dir)) for c in fleet
    ]
    first, *more = sites
    nginx = NginxProcess(tmp_path / "nginx", first.listen_port, 0, first.include_dir, tuple(more))
    text = nginx.write_main_conf().read_text()
    assert text.count("server {") == 3 and text.count("http {") == 1
    for name, port in (("explorer", 28080), ("web", 28083), ("evm", 28086)):
        include = tmp_path / "nginx" / "bluegreen" / name
        assert text.count(f"include {include}/bluegreen-http.conf;") == 1
        assert f"listen 127.0.0.1:{port};" in text
        assert f"include {include}/bluegreen-location.conf;" in text


def test_a_fleet_sandbox_is_found_by_its_directory(tmp_path: Path) -> None:
    directory = fleet_dir(tmp_path)
    assert world.sandbox_config_path(directory) is None  # no sandbox.json: nothing is up there
    (directory / "sandbox.json").write_text("{}")
    assert world.sandbox_config_path(directory) == directory
