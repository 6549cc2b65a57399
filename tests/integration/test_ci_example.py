"""examples/github-actions/deploy.yml, run as the runner would run it: the workflow parsed as YAML,
its deploy step's shell script run with bash against a real explorer sandbox, `ssh` replaced by a
stand-in on PATH that runs the remote command in a local shell (as sshd would)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions" / "deploy.yml"
PORT_BASE = ports.CI_EXAMPLE.start

# Drops ssh's options and the destination, then hands the rest to a shell, as sshd does.
FAKE_SSH = """#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    -i|-o|-p|-l) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
shift  # user@host
exec sh -c "$*"
"""


def _workflow() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(WORKFLOW.read_text())  # type: ignore[no-any-return]


def _deploy_step() -> dict:  # type: ignore[type-arg]
    steps = _workflow()["jobs"]["deploy"]["steps"]
    return next(s for s in steps if "bluegreen deploy" in s.get("run", ""))


def test_the_workflow_is_release_triggered_and_names_its_secrets() -> None:
    workflow = _workflow()
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1); GitHub reads it as "on".
    trigger = workflow.get("on", workflow.get(True))
    assert trigger == {"release": {"types": ["published"]}}
    text = WORKFLOW.read_text()
    for secret in ("DEPLOY_SSH_KEY", "DEPLOY_HOST", "DEPLOY_USER", "DEPLOY_KNOWN_HOSTS"):
        assert f"secrets.{secret}" in text
    step = _deploy_step()
    assert 'bluegreen deploy "$TAG" --switch auto --wait --json' in step["run"]
    assert step["env"]["TAG"] == "${{ github.event.release.tag_name }}"


@pytest.fixture(scope="module")
def explorer() -> Iterator[Sandbox]:
    world = bring_up(profile="explorer", port_base=PORT_BASE)
    try:
        yield world
    finally:
        tear_down(world.dir)


def test_the_deploy_step_streams_json_and_exits_0_once_live(
    explorer: Sandbox, tmp_path: Path
) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    ssh = fake_bin / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        # the runner's PATH with our ssh first, and the "host"'s bluegreen (this venv's)
        "PATH": f"{fake_bin}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "TAG": "v2",
        "DEPLOY_HOST": "deploy-host.example",
        "DEPLOY_USER": "deploy",
        "BLUEGREEN_CONFIG": str(explorer.config),  # the host's /etc/bluegreen/config.toml
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", "-e", "-c", _deploy_step()["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]  # every line is JSON
    assert (tmp_path / "deploy.jsonl").read_text() == result.stdout  # `tee` kept the log
    kinds = [r["event"] for r in records]
    assert kinds[-1] == "outcome" and kinds.count("outcome") == 1
    assert records[-1]["outcome"] == "switched" and records[-1]["color"] == "green"
    progress = [r for r in records if r["event"] == "progress"]
    assert progress, "no progress line between the start and the outcome"
    for key in ("phase", "state", "height", "head", "lag", "eta_seconds"):
        assert all(key in r for r in progress)
    heights = [r["height"] for r in progress if r["height"] is not None]
    assert heights and heights == sorted(heights), "height never moved, or went backwards"
    assert explorer.status()["live"] == "green"


def test_a_refused_deploy_exits_1(explorer: Sandbox, tmp_path: Path) -> None:
    """An image that does not exist is refused: the job must fail, not pass silently."""
    result = explorer.cli("deploy", "no-such-tag-xyz", "--switch", "auto", "--wait", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
