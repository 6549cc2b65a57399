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
