"""Global options before or after the command, and output into a pipe whose reader goes away.

The pipe tests run the real `bluegreen` in a subprocess against a real (empty) store: no Docker,
no proxy is needed for `status`, `history` and `proxy snippet`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from console.cli import EXIT_SIGPIPE, EXIT_USAGE, parse_args
from console.core.store.store import Store

CONFIG = """
service = "pipe-test"
state_dir = "{state}"

[image]
repository = "example/svc"
command = []

[source]
db_url = "postgresql://u:p@127.0.0.1:1/src"

[slots.blue]
container = "pipe-test-blue"
host_port = 18991
db_url = "postgresql://u:p@127.0.0.1:1/blue"

[slots.green]
container = "pipe-test-green"
host_port = 18992
db_url = "postgresql://u:p@127.0.0.1:1/green"

[proxy]
kind = "nginx"
include_dir = "{include}"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bluegreen.toml"
    path.write_text(
        CONFIG.format(state=tmp_path / "state", include=tmp_path / "nginx"), encoding="utf-8"
    )
    return path


def _bluegreen(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "F", "--read-only", "--json", "status"],
        ["status", "--config", "F", "--read-only", "--json"],
        ["--config", "F", "status", "--json", "--read-only"],
        ["--json", "status", "--read-only", "--config", "F"],
    ],
)
def test_global_options_before_or_after_the_command(argv: list[str]) -> None:
    args = parse_args(argv)
    assert (args.command, args.config, args.read_only, args.json) == ("status", "F", True, True)


def test_an_option_before_the_command_is_not_reset_by_the_sub_command() -> None:
    args = parse_args(["--config", "F", "proxy", "snippet"])
    assert (args.proxy_command, args.config, args.read_only, args.json) == (
        "snippet",
        "F",
        False,
        False,
    )
    args = parse_args(["proxy", "snippet", "--config", "F"])
    assert args.config == "F"
    assert parse_args(["config", "check", "--config", "G"]).config == "G"
    assert parse_args(["deploy", "v2", "--config", "F", "--wait"]).config == "F"


def test_defaults_without_any_global_option() -> None:
    args = parse_args(["history"])
    assert (args.config, args.read_only, args.json) == (None, False, False)


def test_json_where_it_does_not_apply_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--json", "switch"])
    assert exited.value.code == EXIT_USAGE
    assert "--json does not apply to `switch`" in capsys.readouterr().err


def test_help_says_options_go_anywhere() -> None:
    out = subprocess.run(_bluegreen("--help"), capture_output=True, text=True, check=True).stdout
    assert "before or after the\ncommand" in out


def test_status_and_snippet_with_config_after_the_command(config: Path) -> None:
    status = subprocess.run(
        _bluegreen("status", "--config", str(config), "--json"), capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    assert '"service": "pipe-test"' in status.stdout
    snippet = subprocess.run(
        _bluegreen("proxy", "snippet", "--config", str(config)), capture_output=True, text=True
    )
    assert snippet.returncode == 0, snippet.stderr
    assert "include" in snippet.stdout


def _reader_gone(*args: str) -> subprocess.CompletedProcess[str]:
    """Run bluegreen into a pipe whose reader has already gone: the first write meets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            _bluegreen(*args), stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command", [["status"], ["status", "--json"], ["history"], ["history", "--json"]]
)
def test_a_reader_going_away_ends_quietly(config: Path, command: list[str]) -> None:
    store = Store.open(config.parent / "state")
    for index in range(300):  # more than a pipe buffer of history
        store.record_event("deploy", f"event {index} " + "x" * 200, "info", "tester")
    store.close()
    done = _reader_gone(*command, "--config", str(config))
    assert done.returncode == EXIT_SIGPIPE
    assert done.stderr == ""


@pytest.mark.parametrize("command", ["status", "history"])
def test_piped_into_head_prints_one_line_and_no_traceback(config: Path, command: str) -> None:
    """The operator's own pipe: `bluegreen status | head -1`."""
    script = f"{' '.join(_bluegreen(command, '--config', str(config)))} | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode in (0, EXIT_SIGPIPE), done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert len(done.stdout.splitlines()) == 1


class _GoneReader:
    """A stdout whose reader went away after the first line."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        if self.lines >= 1:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines += text.count("\n")
        return len(text)

    def flush(self) -> None:
        if self.lines > 1:
            raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_going_away_mid_operation_lets_the_operation_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`bluegreen switch --yes | head -1`: the steps after the first printed line still run (a
    generator closed between two steps would leave the operation half done), then exit 141."""
    from types import SimpleNamespace

    from console.cli import session
    from console.core.model import Outcome, Progress

    done: list[str] = []

    def operation() -> typing.Iterator[Progress | Outcome]:
        yield Progress("Routing traffic to green…")
        done.append("routed")
        yield Progress("Verifying…")
        done.append("recorded")
        yield Outcome(True, "Switched to green.")
        done.append("ended")

    silenced: list[bool] = []
    monkeypatch.setattr(session, "silence_stdout", lambda: silenced.append(True))
    monkeypatch.setattr(sys, "stdout", _GoneReader())
    console = SimpleNamespace(installation=SimpleNamespace(redactor=SimpleNamespace(redact=str)))
    with pytest.raises(BrokenPipeError):
        session.run_events(console, operation())  # type: ignore[arg-type]
    assert done == ["routed", "recorded", "ended"] and silenced == [True]
