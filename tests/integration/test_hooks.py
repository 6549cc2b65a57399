"""Issue 26 point 2 on real parts: the explorer sandbox (Docker, nginx, PostgreSQL, the agent),
its configuration given [[hooks]]. The agent runs post-ready once; a pre-switch migration — a
one-off container of green's image with green's environment — writes a marker into green's
database; a failing pre-switch stops the switch with its last lines and leaves the proxy on blue;
a failing post-switch is recorded but the switch holds; a pre-switch that hangs (and ignores
SIGTERM) is killed at its timeout; post-rollback runs after a rollback. One sandbox for the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.core.config.load import load_config
from console.drivers.docker.runtime import DockerRuntime
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down
from tests.integration.webhook_sink import webhook_sink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

# The migration: python in green's own image, given green's database through {dest_db_url}.
MIGRATION = (
    "import os, sys, psycopg\n"
    "with psycopg.connect(sys.argv[1]) as db:\n"
    "    db.execute('CREATE TABLE IF NOT EXISTS hook_marker (color text, version text)')\n"
    "    db.execute('INSERT INTO hook_marker VALUES (%s, %s)',\n"
    "               (os.environ['BLUEGREEN_COLOR'], os.environ['BLUEGREEN_VERSION']))\n"
    "print('migrated', os.environ['BLUEGREEN_COLOR'], 'INDEX_SPEED', os.environ['INDEX_SPEED'])\n"
)


def hooks_toml(directory: Path) -> str:
    return f"""
[[hooks]]
name = "note-ready"
stage = "post-ready"
shell = "echo $BLUEGREEN_STAGE $BLUEGREEN_COLOR $BLUEGREEN_VERSION $BLUEGREEN_ACTOR >> ready.txt"
workdir = "{directory}"

[[hooks]]
name = "migrate"
stage = "pre-switch"
kind = "container"
entrypoint = ["python3", "-c"]
command = {json.dumps([MIGRATION, "{dest_db_url}"])}
timeout_seconds = 60

[[hooks]]
name = "approval"
stage = "pre-switch"
command = ["sh", "-c", "echo checking $BLUEGREEN_COLOR; test -e approved || exit 3"]
workdir = "{directory}"
timeout_seconds = 20

[[hooks]]
name = "announce"
stage = "post-switch"
command = ["sh", "-c", "echo announcing $BLUEGREEN_VERSION; exit 1"]

[[hooks]]
name = "after-rollback"
stage = "post-rollback"
shell = "echo $BLUEGREEN_COLOR $BLUEGREEN_VERSION > rolled-back.txt"
workdir = "{directory}"
"""


@pytest.fixture(scope="module")
def webhook() -> Iterator[list[str]]:
    with webhook_sink(ports.HOOKS_WEBHOOK) as received:
        yield received


@pytest.fixture(scope="module")
def world(webhook: list[str]) -> Iterator[Sandbox]:
    sandbox = bring_up(port_base=ports.HOOKS.start)
    try:
        text = sandbox.config.read_text()
        assert 'webhook_url = ""' in text
        sink = f'webhook_url = "http://127.0.0.1:{ports.HOOKS_WEBHOOK}/hook"'
        sandbox.config.write_text(text.replace('webhook_url = ""', sink) + hooks_toml(sandbox.dir))
        assert sandbox.cli("config", "check").returncode == 0
        stop_agent(sandbox)  # the agent `deploy` starts again reads the hooks
        yield sandbox
    finally:
        tear_down(sandbox.dir)


def hook_runs(world: Sandbox) -> list[dict[str, Any]]:
    result = world.cli("history", "--json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["hooks"])


def wait_for(what: str, condition: Callable[[], bool], world: Sandbox, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {limit:.0f} s\n{world.why()}")


def markers(world: Sandbox) -> list[tuple[str, str]]:
    url = load_config(str(world.config)).slot("green").sampling_db_url
    with psycopg.connect(url) as db:
        exists = db.execute("SELECT to_regclass('hook_marker')").fetchone()
        if exists is None or exists[0] is None:
            return []
        return [(str(c), str(v)) for c, v in db.execute("SELECT * FROM hook_marker")]


def notified(webhook: list[str], words: str) -> bool:
    return any(words in json.loads(body).get("text", "") for body in webhook)


def test_post_ready_once_and_a_failing_pre_switch_leaves_traffic_on_blue(
    world: Sandbox, webhook: list[str]
) -> None:
    deployed = world.cli("deploy", "v2", "--switch", "never", "--wait", timeout=240)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    ready_file = world.dir / "ready.txt"
    wait_for("the post-ready hook", ready_file.exists, world)
    time.sleep(2)  # a few more agent ticks with green ready: it must not run again
    assert ready_file.read_text().splitlines() == ["post-ready green v2 agent"]

    refused = world.cli("switch", "--yes")
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert "Hook approval (pre-switch, host) failed with exit 3" in said
    assert "Its last lines: checking green" in said
    assert "Traffic stays on blue; the proxy was not touched." in said
    assert world.served_by() == "blue" and world.status()["live"] == "blue"
    # The migration before it ran in green's image, with green's environment and database.
    assert markers(world) == [("green", "v2")]
    runs = {run["name"]: run for run in hook_runs(world)}
    assert runs["note-ready"]["actor"] == "agent" and runs["note-ready"]["ok"]
    assert runs["migrate"]["kind"] == "container" and runs["migrate"]["exit_code"] == 0
    approval = runs["approval"]
    assert approval["exit_code"] == 3 and approval["stage"] == "pre-switch"
    assert approval["last_lines"] == ["checking green"]
    assert approval["duration_seconds"] is not None and approval["color"] == "green"
    assert notified(webhook, "Hook approval (pre-switch, host) failed with exit 3")
    green = load_config(str(world.config)).slot("green").container
    assert DockerRuntime().inspect(f"{green}-hook-migrate") is None  # removed once it ended


def test_a_failing_post_switch_is_recorded_and_the_switch_holds(
    world: Sandbox, webhook: list[str]
) -> None:
    (world.dir / "approved").touch()
    switched = world.cli("switch", "--yes")
    said = switched.stdout + switched.stderr
    assert switched.returncode == 0, said
    assert "Hook announce (post-switch, host) failed with exit 1" in said
    assert world.served_by() == "green"
    events = json.loads(world.cli("history", "--json").stdout)["events"]
    announce = [e for e in events if e["kind"] == "hook" and "announce" in e["text"]]
    assert [e["level"] for e in announce] == ["warning"]
    assert notified(webhook, "Hook announce (post-switch, host) failed with exit 1")
    assert markers(world) == [("green", "v2"), ("green", "v2")]  # it ran again for this switch


def test_a_hanging_pre_switch_is_killed_at_its_timeout(world: Sandbox) -> None:
    with world.config.open("a") as config:
        config.write(
            '\n[[hooks]]\nname = "hang"\nstage = "pre-switch"\ntimeout_seconds = 2\n'
            "shell = \"trap '' TERM; echo holding; sleep 300\"\n"
        )
    began = time.monotonic()
    refused = world.cli("switch", "--yes", "--force")  # to blue, which has served
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert "Hook hang (pre-switch, host) was killed at its timeout of 2 s" in said
    assert time.monotonic() - began < 120, "it waited for the sleep"  # a guard, not a figure
    assert world.served_by() == "green"
    (hang,) = [run for run in hook_runs(world) if run["name"] == "hang"]
    assert hang["timed_out"] and hang["exit_code"] is None and hang["last_lines"] == ["holding"]


def test_post_rollback_runs_once_traffic_is_back(world: Sandbox) -> None:
    rolled = world.cli("rollback", "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert world.served_by() == "blue"
    assert (world.dir / "rolled-back.txt").read_text().split() == ["blue", "v1"]


def test_a_failing_pre_deploy_changes_nothing(world: Sandbox) -> None:
    with world.config.open("a") as config:
        config.write(
            '\n[[hooks]]\nname = "preflight"\nstage = "pre-deploy"\n'
            'command = ["sh", "-c", "echo disk check for $BLUEGREEN_IMAGE; exit 2"]\n'
        )
    before = world.status()
    refused = world.cli("deploy", "v2", "--switch", "never")
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert "Hook preflight (pre-deploy, host) failed with exit 2" in said
    assert "Nothing was changed" in said
    after = world.status()
    assert after["live"] == "blue" and world.served_by() == "blue"
    # green (v2, kept for rollback) still runs its deployment: no new one was created
    for key in ("deployment_id", "state", "version"):
        assert after["slots"]["green"].get(key) == before["slots"]["green"].get(key), key
