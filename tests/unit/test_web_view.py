"""`watch --web`: its options, the fixed read-only command it serves, and the server's refusals
(a busy port, a non-loopback listen, a foreign Host or Origin) — on a real textual-serve server
with an empty store, no Docker or proxy needed."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.cli import EXIT_FAILED, EXIT_USAGE, parse_args
from console.cli.web import (
    WebViewError,
    checked_listen,
    host_allowed,
    origin_allowed,
    served_command,
)
from tests import ports
from tests.unit.test_cli_options import CONFIG
from tests.web_browser import served


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bluegreen.toml"
    path.write_text(
        CONFIG.format(state=tmp_path / "state", include=tmp_path / "nginx"), encoding="utf-8"
    )
    return path


_PORTS = ports.unused(ports.WEB_VIEW_UNIT)


def _free_port() -> int:
    return next(_PORTS)


def _bluegreen(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_the_served_command_is_always_read_only_watch() -> None:
    words = shlex.split(served_command("/etc/bluegreen/my config.toml"))
    assert words[0] == sys.executable
    assert words[1:] == ["-m", "console", "--config", "/etc/bluegreen/my config.toml",
                         "--read-only", "watch"]  # fmt: skip
    # What it runs parses to a read-only watch without --web: a tab cannot serve another tab.
    args = parse_args(words[3:])
    assert args.command == "watch" and args.read_only and not args.web


def test_a_fleet_is_served_whole_unless_a_service_is_named() -> None:
    whole = shlex.split(served_command("/etc/bluegreen"))
    assert whole[3:] == ["--config", "/etc/bluegreen", "--read-only", "watch"]
    named = shlex.split(served_command("/etc/bluegreen", "web"))
    assert named[3:] == ["--config", "/etc/bluegreen", "--service", "web", "--read-only", "watch"]


def test_listen_is_loopback_unless_allowed() -> None:
    assert checked_listen("127.0.0.1:8765", False) == ("127.0.0.1", 8765)
    assert checked_listen("[::1]:8765", False) == ("::1", 8765)
    assert checked_listen("localhost:9000", False) == ("localhost", 9000)
    assert checked_listen("0.0.0.0:8765", True) == ("0.0.0.0", 8765)
    for bad in ("0.0.0.0:8765", "10.1.2.3:8765", "example.org:8765", "8765", "127.0.0.1:0"):
        with pytest.raises(WebViewError) as refused:
            checked_listen(bad, False)
        assert refused.value.usage


def test_host_and_origin_checks() -> None:
    assert host_allowed("127.0.0.1:8765", "127.0.0.1", 8765, False)
    assert host_allowed("localhost:8765", "127.0.0.1", 8765, False)
    assert host_allowed("[::1]:8765", "::1", 8765, False)
    assert not host_allowed("rebound.example:8765", "127.0.0.1", 8765, False)
    assert not host_allowed("127.0.0.1:9999", "127.0.0.1", 8765, False)
    assert host_allowed("console.internal:8765", "0.0.0.0", 8765, True)
    assert origin_allowed(None, "127.0.0.1:8765")
    assert origin_allowed("http://127.0.0.1:8765", "127.0.0.1:8765")
    assert not origin_allowed("https://evil.example", "127.0.0.1:8765")


def test_options_without_web_are_a_usage_error(config: Path) -> None:
    result = _bluegreen(config, "watch", "--listen", "127.0.0.1:8765")
    assert result.returncode == EXIT_USAGE
    assert "go with `watch --web`" in result.stderr


def test_non_loopback_listen_is_refused_with_a_sentence(config: Path) -> None:
    result = _bluegreen(config, "watch", "--web", "--listen", "0.0.0.0:8765")
    assert result.returncode == EXIT_USAGE
    assert "not a loopback address" in result.stderr and "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_one_sentence(config: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _bluegreen(config, "watch", "--web", "--listen", f"127.0.0.1:{port}")
    assert result.returncode == EXIT_FAILED
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_is_reported_before_serving(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = _bluegreen(missing, "watch", "--web", "--listen", f"127.0.0.1:{_free_port()}")
    assert result.returncode == EXIT_USAGE
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def web_view(config: Path) -> Iterator[int]:
    port = _free_port()
    with served(config, port):
        yield port


def test_the_page_is_served_and_foreign_hosts_and_origins_are_refused(web_view: int) -> None:
    port = web_view
    page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert page.status_code == 200
    assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page.text
    assert "bluegreen (read-only)" in page.text
    rebound = httpx.get(
        f"http://127.0.0.1:{port}/", headers={"Host": f"rebound.example:{port}"}, timeout=5
    )
    assert rebound.status_code == 403
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    foreign = httpx.get(
        f"http://127.0.0.1:{port}/ws",
        headers={**upgrade, "Origin": "https://evil.example"},
        timeout=5,
    )
    assert foreign.status_code == 403
    own = httpx.get(
        f"http://127.0.0.1:{port}/ws",
        headers={**upgrade, "Origin": f"http://127.0.0.1:{port}"},
        timeout=5,
    )
    assert own.status_code == 101  # the handshake our own page makes is accepted
