"""The sandbox profile table: every profile's generated config passes `config check`, the CLI
offers exactly the table's profiles, and old sandboxes (before profiles) read as explorers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import build_parser
from console.core.config.load import parse_config
from console.sandbox import world
from console.sandbox.procs import SandboxError
from console.sandbox.profiles import PROFILES, get_profile
from console.sandbox.profiles.base import Context, Ports


def context(tmp_path: Path) -> Context:
    return Context(tmp_path, Ports.from_base(28080), 3000, 1500, "172.17.0.1", say=lambda _: None)


def write_secrets(tmp_path: Path) -> None:
    names = ("SOURCE", "BLUE", "GREEN")
    lines = [
        f"{n}_DB_URL=postgresql://u:pw@172.17.0.1:28100/{n.lower()}\n"
        f"{n}_HOST_DB_URL=postgresql://u:pw@127.0.0.1:28100/{n.lower()}\n"
        for n in names
    ]
    (tmp_path / "secrets.env").write_text("".join(lines))


def test_the_cli_offers_exactly_the_profiles_of_the_table() -> None:
    parser = build_parser()
    assert parser.parse_args(["sandbox", "up"]).profile == "explorer"
    for name in PROFILES:
        assert parser.parse_args(["sandbox", "up", "--profile", name]).profile == name
    with pytest.raises(SystemExit):
        parser.parse_args(["sandbox", "up", "--profile", "nope"])


def test_an_unknown_profile_is_one_sentence() -> None:
    with pytest.raises(SandboxError, match="no sandbox profile 'nope': use one of explorer"):
        get_profile("nope")


def test_explorer_config_is_todays(tmp_path: Path) -> None:
    write_secrets(tmp_path)
    text = PROFILES["explorer"].render_config(context(tmp_path))
    config = parse_config(text, tmp_path / "bluegreen.toml")
    assert config.service == "explorer"
    assert config.image.repository == "bluegreen/standin"
    assert config.head.kind == "sql" and config.head.query == "SELECT MAX(height) - 1 FROM blocks"
    assert config.slots["blue"].container == "explorer-28080-blue"
    assert config.slots["green"].host_port == 28082
    assert config.readiness.log_pattern == "catchup completed"
    assert config.readiness.smoke_path == "/graphql"
    assert 'INDEX_SPEED = "1500"' in text


def test_port_plan_and_container_names() -> None:
    ports = Ports.from_base(18080)
    assert (ports.proxy, ports.blue, ports.green, ports.admin) == (18080, 18081, 18082, 18099)
    assert (ports.postgres, ports.rpc) == (18100, 18101)
    assert world.container_prefix("webapp", 18080) == "webapp"
    assert world.container_prefix("webapp", 28280) == "webapp-28280"


def test_a_sandbox_made_before_profiles_reads_as_an_explorer(tmp_path: Path) -> None:
    old = {
        "dir": str(tmp_path),
        "config": str(tmp_path / "bluegreen.toml"),
        "proxy_url": "http://127.0.0.1:18080",
        "admin_url": "http://127.0.0.1:18099",
        "ports": {"proxy": 18080, "blue": 18081, "green": 18082, "admin": 18099, "postgres": 18100},
        "images": ["bluegreen/standin:v1", "bluegreen/standin:v2"],
        "containers": ["explorer-blue", "explorer-green"],
        "pids": {},
    }
    (tmp_path / "sandbox.json").write_text(json.dumps(old))
    info = world.SandboxInfo.load(tmp_path)
    assert info is not None and info.profile == "explorer" and info.service == "explorer"
    state = world.status(tmp_path)
    assert state["profile"] == "explorer"


def test_web_config_needs_no_database_and_gates_on_readiness_only(tmp_path: Path) -> None:
    config = parse_config(PROFILES["web"].render_config(context(tmp_path)))
    assert not config.catchup and config.effective_head is None
    assert config.source.db_url == "" and all(not s.db_url for s in config.slots.values())
    assert config.secrets_file == ""
    assert config.readiness.health_path == "/api/health/ready"
    assert config.readiness.health_expect == "ready"
    assert config.readiness.min_ready_seconds > 0
    assert config.readiness.log_pattern == ""
    assert config.slots["blue"].container == "webapp-28080-blue"


def test_evm_config_reads_the_head_over_json_rpc_and_the_height_from_the_colour(
    tmp_path: Path,
) -> None:
    from console.core.config.sources import HttpSource, JsonRpcSource

    ctx = context(tmp_path)
    config = parse_config(PROFILES["evm"].render_config(ctx))
    head, candidate = config.effective_head, config.candidate
    assert isinstance(head, JsonRpcSource)
    assert head.url == f"http://127.0.0.1:{ctx.ports.rpc}" and head.rpc_method == "eth_blockNumber"
    assert isinstance(candidate, HttpSource)
    assert candidate.url == "http://127.0.0.1:{host_port}/status" and candidate.field == "block"
    assert [c.url for c in config.readiness.checks] == ["http://127.0.0.1:{host_port}/ready"]
    assert all(not s.db_url for s in config.slots.values())
    # Containers dial the chain by name; the name is the host's address on the bridge.
    assert config.image.extra_hosts == {"chain.sandbox": "172.17.0.1"}
    assert config.image.env["RPC_URL"] == f"http://chain.sandbox:{ctx.ports.rpc}"


def test_up_on_a_running_sandbox_of_another_profile_says_what_to_do(tmp_path: Path) -> None:
    import os

    running = world.SandboxInfo(
        dir=str(tmp_path),
        config=str(tmp_path / "bluegreen.toml"),
        proxy_url="http://127.0.0.1:18080",
        admin_url="http://127.0.0.1:18099",
        ports={"proxy": 18080},
        images=[],
        containers=[],
        pids={"nginx": os.getpid()},  # alive: the sandbox counts as up
        profile="web",
        service="webapp",
    )
    running.save()
    with pytest.raises(SandboxError, match=r"up with profile 'web', not 'evm'.*sandbox down"):
        world.up(tmp_path, profile="evm", say=lambda _: None)
    said: list[str] = []
    again = world.up(tmp_path, profile="web", say=said.append)  # same profile: nothing rebuilt
    assert again.profile == "web" and said == [f"The sandbox in {tmp_path} is already up."]


def test_a_port_something_listens_on_is_named_before_anything_starts() -> None:
    """`sandbox up` says which port is taken, rather than failing later in nginx's reload."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        assert world._ports_in_use({"proxy": taken}) == [f"proxy {taken}"]
    assert world._ports_in_use({"proxy": taken}) == []


def test_swarm_profile_runs_the_web_service_on_its_own_bed() -> None:
    """The swarm profile's runtime is its bed's manager; the bed's names come from the port base,
    so two sandboxes' beds never meet, and the tests' own bed (10.77.0) is never one of them."""
    from console.sandbox.profiles.swarm import bed_spec

    directory = Path("/var/tmp/bg-unit")  # rendered only; a unix socket's path must stay short
    text = PROFILES["swarm"].render_config(context(directory))
    spec = bed_spec(directory, 28080)
    assert spec.prefix == "bs28080" and spec.subnet != "10.77.0"
    assert spec.subnet != bed_spec(directory, 28081).subnet
    manager = f"unix://{directory}/swarm/bs28080-n1/docker.sock"
    assert 'kind = "swarm"' in text and f'docker_host = "{manager}"' in text
    assert "replicas = 3" in text and "[image]" in text and text.count("[runtime]") == 1
