"""Image retention on a real Docker Engine: `[image] keep`, `bluegreen prune [--dry-run]` and the
pruning after a switch, over versions of a small image this module builds itself.

The repository is this module's own (`bluegreen-test-retention/app`); every tag and container it
makes is removed at the end. Five versions, built in order: v0 (a runnable one, on the stand-ins'
base image, kept running by a container), then v1..v4 (a file each, FROM scratch). The store says
green (v3) is live and blue (v2) is kept for rollback. With keep = 1: v4 is the newest, v3 and v2
are the colours', v0 a running container's — only v1 goes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from console import wiring
from console.core.config.load import load_config
from console.core.installation import Installation
from console.core.model import Actor, SwitchPolicy
from console.core.ops.named_rollback import plan_named_rollback
from console.core.ops.retention import plan_prune, prune_after_switch, retained_versions
from console.sandbox.images import ensure_base_image

REPO = "bluegreen-test-retention/app"
RUNNER = "bluegreen-test-retention-runner"
ACTOR = Actor("tester")


def _build(
    client: docker.DockerClient, root: Path, tag: str, dockerfile: str, payload: bytes
) -> None:
    context = root / tag
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    (context / "payload").write_bytes(payload)
    client.images.build(path=str(context), tag=f"{REPO}:{tag}", rm=True)


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=120)
    base = ensure_base_image(client)
    with tempfile.TemporaryDirectory(prefix="bg-retention-") as root:
        _build(client, Path(root), "v0", f"FROM {base}\nCOPY payload /payload\n", b"v0")
        for n in range(1, 5):  # distinct sizes: each its own image, and sizes tell them apart
            _build(
                client,
                Path(root),
                f"v{n}",
                "FROM scratch\nCOPY payload /payload\n",
                os.urandom(n * 40_000),
            )
    client.containers.run(f"{REPO}:v0", ["sleep", "infinity"], name=RUNNER, detach=True)
    try:
        yield client
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(RUNNER).remove(force=True)
        for tag in _tags(client):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag)
        client.close()


def _config(root: Path, keep: int) -> Path:
    path = root / "bluegreen.toml"
    path.write_text(
        f"""service = "retained"
state_dir = "{root / "state"}"
[image]
repository = "{REPO}"
keep = {keep}
[source]
db_url = "postgresql://u@127.0.0.1:9/chain"
[slots.blue]
container = "bluegreen-test-retention-blue"
host_port = 9
db_url = "postgresql://u@127.0.0.1:9/b"
[slots.green]
container = "bluegreen-test-retention-green"
host_port = 10
db_url = "postgresql://u@127.0.0.1:9/g"
[proxy]
kind = "nginx"
include_dir = "{root / "include"}"
"""
    )
    return path


@pytest.fixture
def installation(
    engine: docker.DockerClient, tmp_path: Path
) -> Iterator[tuple[Installation, Path]]:
    path = _config(tmp_path, keep=1)
    inst = wiring.open_installation(load_config(str(path)))
    store = inst.store
    store.create_deployment("blue", f"{REPO}:v2", "v2", SwitchPolicy.CONFIRM, "tester", {}, None)
    store.create_deployment("green", f"{REPO}:v3", "v3", SwitchPolicy.CONFIRM, "tester", {}, None)
    store.set_live("green", "blue")
    try:
        yield inst, path
    finally:
        inst.close()


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _tags(client: docker.DockerClient) -> set[str]:
    """This module's tags only: an image listed here may carry other repositories' tags too
    (the stand-in's own), which are never this module's to remove."""
    images = client.images.list(name=REPO)
    return {tag for image in images for tag in image.tags if tag.startswith(f"{REPO}:")}


def test_the_plan_keeps_the_newest_the_colours_and_what_runs(
    installation: tuple[Installation, Path],
) -> None:
    inst, _ = installation
    assert retained_versions(inst) == ["v4", "v3", "v2", "v1", "v0"]  # newest built first
    plan = plan_prune(inst, keep=1)
    assert [image.ref for image in plan.remove] == [f"{REPO}:v1"]
    why = {kept.image.ref.rsplit(":", 1)[1]: kept.why for kept in plan.kept}
    assert why == {
        "v4": "newest 1",
        "v3": "live (green)",
        "v2": "kept for rollback (blue)",
        "v0": "used by a running container",
    }
    assert plan.frees >= 40_000  # v1's own layer


def test_prune_dry_run_lists_with_sizes_and_changes_nothing(
    engine: docker.DockerClient, installation: tuple[Installation, Path]
) -> None:
    _, config = installation
    before = _tags(engine)
    done = _cli(config, "prune", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"remove {REPO}:v1 (" in done.stdout and "KiB)" in done.stdout
    assert f"keep   {REPO}:v0 (used by a running container)" in done.stdout
    assert "Would remove 1 image" in done.stdout and "Nothing was changed" in done.stdout
    assert _tags(engine) == before


def test_a_switch_prunes_what_keep_lets_go_and_audits_it(
    engine: docker.DockerClient, installation: tuple[Installation, Path]
) -> None:
    inst, config = installation
    said = list(prune_after_switch(inst, ACTOR))
    assert [event.text for event in said if "Removed 1 image" in event.text], said
    assert _tags(engine) == {f"{REPO}:v{n}" for n in (0, 2, 3, 4)}
    events = [e for e in inst.store.events(limit=20) if e.kind == "prune"]
    assert events and events[0].actor == str(ACTOR) and f"{REPO}:v1" in events[0].text
    # Nothing older is left over the newest one that is not a colour's or in use.
    again = _cli(config, "prune", "--yes")
    assert again.returncode == 0, again.stderr
    assert "nothing to remove" in again.stdout
    assert _tags(engine) == {f"{REPO}:v{n}" for n in (0, 2, 3, 4)}


def test_a_version_that_is_not_retained_is_one_sentence_naming_those_that_are(
    engine: docker.DockerClient, installation: tuple[Installation, Path]
) -> None:
    inst, config = installation
    plan = plan_named_rollback(inst, "v9")
    versions = ", ".join(retained_versions(inst))  # v1 is gone if the prune test ran first
    assert versions.startswith("v4, v3, v2") and versions.endswith("v0")
    assert plan.blocked_reason == (
        f"retained has no image {REPO}:v9 on this host (a rollback never pulls); the retained "
        f"versions are {versions}."
    )
    done = _cli(config, "rollback", "--to", "v3", "--yes")
    assert done.returncode == 1
    assert "v3 is already live in green" in done.stderr


def test_without_keep_nothing_is_pruned(engine: docker.DockerClient, tmp_path: Path) -> None:
    config = _config(tmp_path, keep=0)
    inst = wiring.open_installation(load_config(str(config)))
    try:
        before = _tags(engine)
        assert list(prune_after_switch(inst, ACTOR)) == []
        done = _cli(config, "prune", "--yes")
        assert done.returncode == 1 and "keeps every image" in done.stderr + done.stdout
        assert _tags(engine) == before
    finally:
        inst.close()
