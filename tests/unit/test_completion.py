"""`bluegreen completion bash|zsh`: shtab's scripts from the CLI's own parser, exercised in a real
bash (the completion function called as bash calls it on <Tab>)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from console.cli import build_parser
from console.cli.completion import script

COMMANDS = (
    "deploy",
    "switch",
    "rollback",
    "status",
    "history",
    "logs",
    "agent",
    "sandbox",
    "completion",
)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=60
    )


def _complete(line: str) -> list[str]:
    """What bash offers for `line` (completing its last word; a trailing space = a new word)."""
    bash = shutil.which("bash")
    assert bash
    words = line.split() + ([""] if line.endswith(" ") else [])
    program = (
        f"source /dev/stdin; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; "
        "_shtab_bluegreen; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    result = subprocess.run(
        [bash, "-c", program],
        input=script(build_parser(), "bash"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.splitlines() if w]


def test_the_bash_script_lists_every_sub_command() -> None:
    result = _cli("completion", "bash")
    assert result.returncode == 0, result.stderr
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(COMMANDS) <= set(sub.choices)  # type: ignore[arg-type]
    subparsers = next(
        line
        for line in result.stdout.splitlines()
        if line.startswith("_shtab_bluegreen_subparsers=")
    )
    for command in sub.choices:  # type: ignore[union-attr]
        assert command in subparsers.split("(")[1].rstrip(")").split(), command


def test_bash_completes_commands_options_and_choices() -> None:
    assert _complete("bluegreen dep") == ["deploy"]
    assert _complete("bluegreen sandbox up --pro") == ["--profile"]
    profiles = ["evm", "explorer", "fleet", "swarm", "web"]
    assert sorted(_complete("bluegreen sandbox up --profile ")) == profiles
    assert "--systemd-unit" in _complete("bluegreen agent --")
    assert "--wait" in _complete("bluegreen deploy v2 --")


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_other_shells_get_a_script_naming_the_commands(shell: str) -> None:
    text = script(build_parser(), shell)
    for command in COMMANDS:
        assert command in text


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = _cli("completion", "fish")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "invalid choice" in result.stderr
