"""`bluegreen agent --systemd-unit`: the unit passes `systemd-analyze verify`, and sd_notify speaks
systemd's datagram protocol."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from console.agent.systemd import notify

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
service = "unit-test"
state_dir = "{state}"

[image]
repository = "example/svc"
command = []

[slots.blue]
container = "unit-test-blue"
host_port = 18991

[slots.green]
container = "unit-test-green"
host_port = 18992
"""


def _unit(tmp_path: Path, state: Path) -> str:
    config = tmp_path / "bluegreen.toml"
    config.write_text(CONFIG.format(state=state))
    result = subprocess.run(
        [sys.executable, "-m", "console", "--config", str(config), "agent", "--systemd-unit"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: ./dev setup installs Debian's `systemd`"
    unit = tmp_path / "bluegreen-agent.service"
    unit.write_text(text)
    return subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    state = Path("/var/lib/bluegreen-unit-test")
    text = _unit(tmp_path, state)
    lines = text.splitlines()
    assert "Type=notify" in lines and "Restart=on-failure" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    program = exec_start.removeprefix("ExecStart=").split()[0]
    assert Path(program).is_absolute() and Path(program).exists()
    assert f"--config {tmp_path / 'bluegreen.toml'} agent" in exec_start
    for hardening in (
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=read-only",
    ):
        assert hardening in lines
    writable = next(line for line in lines if line.startswith("ReadWritePaths="))
    assert str(state) in writable.split("=", 1)[1].split()
    assert "-/run" in writable  # Docker's socket
    result = _verify(tmp_path, text)
    assert result.returncode == 0, result.stdout + result.stderr


def test_verify_does_catch_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a unit whose ExecStart does not exist is rejected."""
    text = _unit(tmp_path, Path("/var/lib/bluegreen-unit-test"))
    broken = "\n".join(
        "ExecStart=/nonexistent/bluegreen agent" if line.startswith("ExecStart=") else line
        for line in text.splitlines()
    )
    assert _verify(tmp_path, broken).returncode != 0


def test_a_state_dir_under_var_tmp_keeps_private_tmp_off(tmp_path: Path) -> None:
    text = _unit(tmp_path, Path("/var/tmp/bluegreen-sandbox/state"))
    assert "PrivateTmp=yes" not in text.splitlines()


def test_notify_sends_one_datagram_to_notify_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("READY=1") is True
        assert server.recv(256) == b"READY=1"


def test_notify_without_systemd_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock")
    assert notify("READY=1") is False


FLEET_SERVICE = """
[image]
repository = "example/{name}"
command = []
[slots.blue]
container = "{name}-blue"
host_port = {port}
[slots.green]
container = "{name}-green"
host_port = {port_green}
"""


def test_a_directory_gets_one_unit_that_reloads_and_writes_every_service(tmp_path: Path) -> None:
    """One unit for the fleet: `systemctl reload` sends SIGHUP (the agent re-reads the
    directory); the host's state dir and the shared include dir are writable, so a service added
    later can write its own; a service with an include dir of its own gets that one too."""
    directory = tmp_path / "bluegreen"
    directory.mkdir()
    state = Path("/var/lib/bluegreen-fleet-unit-test")
    host = f'state_dir = "{state}"\n[proxy]\ninclude_dir = "/etc/nginx/bluegreen"\n'
    (directory / "host.toml").write_text(host)
    for name, port in (("api", 18993), ("web", 18995)):
        text = FLEET_SERVICE.format(name=name, port=port, port_green=port + 1)
        (directory / f"{name}.toml").write_text(text)
    own = FLEET_SERVICE.format(name="docs", port=18997, port_green=18998)
    own += '[proxy]\ninclude_dir = "/srv/docs/nginx"\n'
    (directory / "docs.toml").write_text(own)
    result = subprocess.run(
        [sys.executable, "-m", "console", "--config", str(directory), "agent", "--systemd-unit"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start.endswith(f"--config {directory} agent")
    writable = next(line for line in lines if line.startswith("ReadWritePaths="))
    paths = writable.split("=", 1)[1].split()
    assert str(state) in paths
    assert "-/etc/nginx/bluegreen" in paths  # web's and api's include dirs live in it
    assert "-/srv/docs/nginx" in paths
    assert "-/etc/nginx/bluegreen/web" not in paths
    assert "api, docs, web" in next(line for line in lines if line.startswith("Description="))
    verified = _verify(tmp_path, result.stdout)
    assert verified.returncode == 0, verified.stdout + verified.stderr
