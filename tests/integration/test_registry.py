"""Issue 26 point 6: deploy pulls from a real private registry (Debian's docker-registry, basic
auth, TLS from a test CA) with credentials from the configuration's secrets, or from the engine's
own config as `docker login` wrote it; the pull's time and the image's size land in the
deployment's history; a wrong password is one sentence naming the registry, and the password is
nowhere: not in the output, the store, the events, the notifications or the state directory.

One registry for the module; each test deploys its own tag (removed from the host first, so the
deploy really pulls it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from console import wiring
from console.core.config.load import load_config
from console.core.model import Actor, Outcome
from console.core.ops.deploy import deploy
from console.sandbox.images import docker_gateway_ip
from tests import ports
from tests.integration.registry_world import Registry, build_image, running_registry
from tests.integration.script_containers import sweep
from tests.integration.webhook_sink import webhook_sink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REGISTRY_PORT, SINK_PORT, BLUE_PORT, GREEN_PORT = ports.REGISTRY
PREFIX = "bgtest-registry-"
TAGS = ("v1", "v2", "v3", "v4")


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    if shutil.which("docker-registry") is None:
        pytest.fail("docker-registry is not installed (`./dev setup` installs it)")
    work = Path(tempfile.mkdtemp(prefix="bg-registry-images-"))
    client = docker.from_env()
    with running_registry(docker_gateway_ip("bridge"), REGISTRY_PORT) as reg:
        pusher = work / "pusher"  # `docker login` for the push only, never the user's ~/.docker
        reg.login(pusher)
        try:
            for tag in TAGS:
                ref = f"{reg.repository}:{tag}"
                build_image(ref, tag, work)
                reg.docker("push", ref, config_dir=pusher)
                client.images.remove(ref, force=True)  # so that deploy must pull it
            yield reg
        finally:
            sweep(PREFIX)
            for tag in TAGS:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(f"{reg.repository}:{tag}", force=True)
            client.close()
            shutil.rmtree(work, ignore_errors=True)


def write_config(root: Path, reg: Registry, registry_table: str, password: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    secrets = root / "secrets.env"
    secrets.write_text(f"REGISTRY_PASSWORD={password}\n")
    secrets.chmod(0o600)
    config = root / "bluegreen.toml"
    config.write_text(
        f"""service = "registrytest"
state_dir = "{root / "state"}"
secrets_file = "{secrets}"

[image]
repository = "{reg.repository}"
command = ["/bin/sleep", "3600"]
container_port = 8080
stop_timeout_seconds = 1

[slots.blue]
container = "{PREFIX}blue"
host_port = {BLUE_PORT}

[slots.green]
container = "{PREFIX}green"
host_port = {GREEN_PORT}

[proxy]
include_dir = "{root / "nginx"}"

[notify]
webhook_url = "http://127.0.0.1:{SINK_PORT}/hook"
min_interval_seconds = 0

{registry_table}
"""
    )
    return config


SECRETS_TABLE = """[registry]
username = "alice"
password = "${REGISTRY_PASSWORD}"
"""


def deploy_tag(config_path: Path, tag: str) -> list[object]:
    inst = wiring.open_installation(load_config(str(config_path)))
    try:
        return list(deploy(inst, tag, Actor("registry-test")))
    finally:
        inst.close()


def cli(config_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`bluegreen --config PATH ARGV…`, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "console", "--config", str(config_path), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def history(config_path: Path) -> dict[str, object]:
    done = cli(config_path, "history", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def assert_pulled(config_path: Path, credentials: str, reg: Registry) -> None:
    (newest, *_older) = history(config_path)["deployments"]  # type: ignore[misc]
    pull = newest["pull"]
    assert pull["how"] == "pulled"
    assert pull["registry"] == reg.host
    assert pull["credentials"] == credentials
    assert pull["seconds"] > 0
    assert 100_000 < pull["size_bytes"] < 50_000_000  # sleep and libc: a couple of MiB
    phases = newest["phases"]
    assert phases["pulling"] <= phases["pulled"] <= phases["created"]


def test_deploy_pulls_with_credentials_from_the_secrets_file(
    registry: Registry, tmp_path: Path
) -> None:
    config = write_config(tmp_path, registry, SECRETS_TABLE, registry.password)
    events = deploy_tag(config, "v1")
    outcome = events[-1]
    assert isinstance(outcome, Outcome) and outcome.ok, events
    assert any("credentials: secrets" in str(getattr(e, "text", "")) for e in events)
    assert_pulled(config, "secrets", registry)
    client = docker.from_env()
    try:
        running = client.containers.get(f"{PREFIX}blue")
        assert running.status == "running"
        assert running.attrs["Config"]["Image"] == f"{registry.repository}:v1"
    finally:
        client.close()
    sweep(PREFIX)


def test_deploy_pulls_with_the_engine_config_docker_login_wrote(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine_config = tmp_path / "docker-config"
    registry.login(engine_config)  # the real `docker login`, into $DOCKER_CONFIG/config.json
    assert registry.host in json.loads((engine_config / "config.json").read_text())["auths"]
    monkeypatch.setenv("DOCKER_CONFIG", str(engine_config))
    config = write_config(tmp_path / "svc", registry, "", "unused")  # no [registry] table
    outcome = deploy_tag(config, "v2")[-1]
    assert isinstance(outcome, Outcome) and outcome.ok, outcome
    assert_pulled(config, "engine config", registry)
    sweep(PREFIX)


def test_a_wrong_password_is_one_sentence_and_never_shown_or_kept(
    registry: Registry, tmp_path: Path
) -> None:
    wrong = "wrong-" + os.urandom(8).hex()
    config = write_config(tmp_path, registry, SECRETS_TABLE, wrong)
    with webhook_sink(SINK_PORT) as notified:
        done = cli(config, "deploy", "v3")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    refusals = [line for line in output.splitlines() if "refused the password" in line]
    assert len(refusals) == 1, output
    sentence = refusals[0]
    assert registry.host in sentence and "user alice" in sentence and "secrets file" in sentence
    assert sentence.rstrip().endswith("retry.") and "Traceback" not in output
    assert any(registry.host in body for body in notified), notified  # the operator is told
    events = history(config)["events"]
    assert any("refused the password" in e["text"] for e in events)  # type: ignore[index,union-attr]
    # Neither password anywhere: output, notifications, the store (events, metrics, WAL), logs.
    for secret in (wrong, registry.password):
        assert secret not in output
        assert all(secret not in body for body in notified)
        for path in (tmp_path / "state").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_no_credentials_and_an_untrusted_certificate_are_sentences_too(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty-docker-config"))
    config = write_config(tmp_path, registry, "", "unused")
    outcome = deploy_tag(config, "v4")[-1]
    assert isinstance(outcome, Outcome) and not outcome.ok
    assert f"Registry {registry.host} wants a login" in outcome.text
    assert f"`docker login {registry.host}`" in outcome.text
    # Without the CA in certs.d the Engine must refuse the certificate, and say where it goes.
    ca = registry.ca.read_bytes()
    registry.ca.unlink()
    try:
        secrets_config = write_config(tmp_path / "tls", registry, SECRETS_TABLE, registry.password)
        outcome = deploy_tag(secrets_config, "v4")[-1]
    finally:
        registry.ca.write_bytes(ca)
    assert isinstance(outcome, Outcome) and not outcome.ok
    assert f"/etc/docker/certs.d/{registry.host}/ca.crt" in outcome.text, outcome.text
