"""Issue 26.5 end to end on the explorer sandbox (real Docker, nginx, PostgreSQL, the agent):
`rollback --to VERSION` deploys a retained image into the idle colour, waits while it re-indexes
(saying so, with the ETA), then switches through the gate — audited as a rollback to VERSION —
and `[image] keep` prunes after a switch.

The sandbox's config is pointed at this module's own repository (`bluegreen-test-rollback/
standin`): v0 and v2 are extra tags of the stand-in's v1 and v2, and `old` of the base image
they are built on (the oldest: `keep = 1` lets it go, which only untags it). The module removes
its tags at the end; the stand-in and base images stay as they were.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import docker
import pytest

from console.sandbox.images import BASE_IMAGE, STANDIN_REPOSITORY, standin_ref
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO = "bluegreen-test-rollback/standin"


def _tags(client: docker.DockerClient) -> set[str]:
    """This module's tags only: an image listed here may carry other repositories' tags too
    (the stand-in's own), which are never this module's to remove."""
    images = client.images.list(name=REPO)
    return {tag for image in images for tag in image.tags if tag.startswith(f"{REPO}:")}


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    client = docker.from_env(timeout=60)
    made = bring_up(port_base=ports.NAMED_ROLLBACK.start)  # explorer: v1 live in blue
    try:
        client.images.get(standin_ref("v1")).tag(REPO, "v0")
        client.images.get(standin_ref("v2")).tag(REPO, "v2")
        client.images.get(BASE_IMAGE).tag(REPO, "old")
        text = made.config.read_text()
        mine = f'repository = "{REPO}"\nkeep = 1'
        made.config.write_text(text.replace(f'repository = "{STANDIN_REPOSITORY}"', mine, 1))
        stop_agent(made)  # the next deploy starts one that reads the new config
        yield made
    finally:
        tear_down(made.dir)
        for tag in _tags(client):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag)
        client.close()


def _events(world: Sandbox) -> list[dict]:  # type: ignore[type-arg]
    done = world.cli("history", "--json", "--limit", "40")
    assert done.returncode == 0, done.stderr
    return sorted(json.loads(done.stdout)["events"], key=lambda e: e["id"])


def test_a_switch_prunes_beyond_keep_but_never_a_colour_or_a_running_image(world: Sandbox) -> None:
    client = docker.from_env(timeout=60)
    done = world.cli("deploy", "v2", "--switch", "auto", "--wait", "--timeout", "150", timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr + world.why()
    assert world.served_by() == "green"
    deadline = time.monotonic() + 30  # the agent prunes right after it has switched
    while f"{REPO}:old" in _tags(client) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _tags(client) == {f"{REPO}:v0", f"{REPO}:v2"}, world.why()
    assert client.images.get(BASE_IMAGE)  # untagged from this repository only
    pruned = [e for e in _events(world) if e["kind"] == "prune"]
    assert pruned and f"{REPO}:old" in pruned[-1]["text"], world.why()


def test_a_version_not_retained_names_those_that_are(world: Sandbox) -> None:
    done = world.cli("rollback", "--to", "v9", "--yes")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"bluegreen: Rollback refused: explorer has no image {REPO}:v9 on this host (a rollback "
        "never pulls); the retained versions are v2, v0."
    )


def test_rollback_to_a_retained_version_reindexes_then_switches_through_the_gate(
    world: Sandbox,
) -> None:
    # Under a freeze: a way back stays open, even one that must deploy and re-index first.
    frozen = world.cli("freeze", "--message", "no releases until Monday")
    assert frozen.returncode == 0, frozen.stdout + frozen.stderr
    try:
        done = world.cli("rollback", "--to", "v0", "--yes", "--timeout", "150", timeout=200)
    finally:
        world.cli("unfreeze")
    said = done.stdout + done.stderr
    assert done.returncode == 0, said + world.why()
    assert f"Deploying {REPO}:v0 into blue" in said
    assert "blue catches up on v0 before the switch" in said
    assert "ETA " in said or "at head" in said  # the deploy-and-wait lines
    assert "Rollback green → blue" in said and "A rollback to v0" in said
    assert world.served_by() == "blue"
    status = world.status()
    assert status["live"] == "blue" and status["slots"]["blue"]["version"] == "v0"
    rollback = [e for e in _events(world) if e["kind"] == "rollback"][-1]
    assert "A rollback to v0" in rollback["text"] and rollback["actor"], rollback


def test_rollback_to_the_version_the_previous_colour_runs_is_instant(world: Sandbox) -> None:
    done = world.cli("rollback", "--to", "v2", "--yes")
    said = done.stdout + done.stderr
    assert done.returncode == 0, said + world.why()
    assert "Deploying" not in said and "catches up" not in said
    assert "Rollback blue → green" in said and "A rollback to v2" in said
    assert world.served_by() == "green"
