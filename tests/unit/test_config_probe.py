"""`bluegreen config check --probe` against real loopback HTTP servers: the readings, and exit 1
naming a wrong field. Docker is pointed at a socket that does not exist, so the probe cannot ask
whether containers run and reads every source anyway (as when Docker is down)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.cli import main
from console.cli.probe import probe
from console.core.config.load import parse_config
from tests.unit.loopback_http import Loopback, loopback_server, refused_url

CONFIG = """
service = "evm"
state_dir = "{state}"
[image]
repository = "indexer"
[head]
kind = "jsonrpc"
url = "{rpc}"
rpc_method = "eth_blockNumber"
[candidate]
kind = "http"
url = "http://127.0.0.1:{{host_port}}/status"
field = "{field}"
[slots.blue]
container = "evm-blue"
host_port = {blue}
[slots.green]
container = "evm-green"
host_port = {green}
"""


@pytest.fixture()
def servers() -> Iterator[tuple[Loopback, Loopback]]:
    with loopback_server() as rpc, loopback_server() as blue:
        rpc.json("/", {"jsonrpc": "2.0", "id": 1, "result": "0x2710"})  # 10000
        blue.json("/status", {"block": {"number": 9990}})
        yield rpc, blue


def write(tmp_path: Path, rpc: Loopback, blue: Loopback, field: str) -> Path:
    green_port = int(refused_url().rsplit(":", 1)[1].split("/")[0])
    path = tmp_path / "bluegreen.toml"
    path.write_text(
        CONFIG.format(
            state=tmp_path / "state",
            rpc=rpc.url("/"),
            field=field,
            blue=blue.port,
            green=green_port,
        )
    )
    return path


def test_probe_prints_head_and_each_colours_height(
    tmp_path: Path, servers: tuple[Loopback, Loopback]
) -> None:
    rpc, blue = servers
    config = parse_config(write(tmp_path, rpc, blue, "block.number").read_text())
    lines = probe(config, is_running=lambda container: container == "evm-blue")
    assert [(line.who, line.text, line.failed) for line in lines] == [
        ("head", "jsonrpc: 10,000", False),
        ("blue", "http: height 9,990; lag 10", False),
        ("green", "container evm-green is not running: not probed", False),
    ]
    running_but_down = probe(config, is_running=lambda container: True)[2]
    assert (
        running_but_down.failed
        and "green progress endpoint is unreachable" in running_but_down.text
    )


def test_probe_exits_1_naming_a_wrong_field(
    tmp_path: Path,
    servers: tuple[Loopback, Loopback],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    rpc, blue = servers
    good = write(tmp_path, rpc, blue, "block.number")
    assert main(["--config", str(good), "config", "check", "--probe"]) == 1  # green: nothing
    capsys.readouterr()
    blue.json("/status", {"block": {"height": 9990}})
    assert main(["--config", str(good), "config", "check", "--probe"]) == 1
    out, err = capsys.readouterr()
    assert "· head   jsonrpc: 10,000" in out
    assert (
        "✗ blue   The blue progress endpoint answer has no field 'block.number': no 'number' in "
        "block (its keys: height); check candidate.field." in out
    )
    assert "Probe failed for blue, green" in err
    assert "Traceback" not in out + err


def test_check_without_probe_reads_nothing_and_a_web_config_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "web.toml"
    path.write_text(
        f'service = "web"\nstate_dir = "{tmp_path}"\n[image]\nrepository = "web"\n'
        '[slots.blue]\ncontainer = "web-blue"\nhost_port = 18081\n'
        '[slots.green]\ncontainer = "web-green"\nhost_port = 18082\n'
    )
    assert main(["--config", str(path), "config", "check"]) == 0
    assert "no catch-up (readiness by health and checks)" in capsys.readouterr().out
    assert main(["--config", str(path), "config", "check", "--probe"]) == 0
    assert "nothing to read" in capsys.readouterr().out


def test_probe_names_the_log_pattern_of_a_colour_that_is_not_running(
    tmp_path: Path, servers: tuple[Loopback, Loopback]
) -> None:
    rpc, blue = servers
    text = write(tmp_path, rpc, blue, "block.number").read_text()
    config = parse_config(text + '\n[readiness]\nlog_pattern = "backfill complete"\n')
    lines = probe(config, is_running=lambda container: False)
    patterns = [line for line in lines if "log_pattern" in line.text]
    assert [(line.who, line.failed) for line in patterns] == [("blue", False), ("green", False)]
    assert "container evm-green is not running" in patterns[1].text
    assert not any("log_pattern" in line.text for line in probe(parse_config(text)))
