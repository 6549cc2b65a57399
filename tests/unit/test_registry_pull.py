"""[registry]: its checks, which credentials a pull sends, the refusal sentences, and the pull's
record in the store. The pull against a real registry is tests/integration/test_registry.py."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.config.coerce import ConfigError
from console.core.config.load import load_config
from console.core.config.registry import RegistryConfig, registry_of, registry_problems
from console.core.contracts.runtime import ImageArrival
from console.core.model import SwitchPolicy
from console.core.store.image_pull import image_arrivals, record_image_arrival
from console.core.store.store import Store
from console.drivers.docker.registry import (
    ENGINE_CONFIG,
    NONE,
    SECRETS,
    Credentials,
    credentials_for,
    refusal,
)

REPO = "registry.example.com:5000/team/app"
PASSWORD = "hunter2-very-secret"


@pytest.mark.parametrize(
    ("ref", "registry"),
    [
        ("registry.example.com:5000/team/app:v1", "registry.example.com:5000"),
        ("172.17.0.1:27800/a/b@sha256:abc", "172.17.0.1:27800"),
        ("localhost/app:v1", "localhost"),
        ("team/app:v1", "docker.io"),
        ("nginx", "docker.io"),
    ],
)
def test_the_registry_of_a_reference_is_dockers(ref: str, registry: str) -> None:
    assert registry_of(ref) == registry


def test_problems_name_the_key_and_what_to_write() -> None:
    assert registry_problems(RegistryConfig(), REPO) == []
    assert registry_problems(RegistryConfig(username="a", password="b"), REPO) == []
    (scheme,) = registry_problems(RegistryConfig(server="https://r.example.com"), REPO)
    assert "registry.server" in scheme and "HOST:PORT" in scheme
    (no_password,) = registry_problems(RegistryConfig(username="a"), REPO)
    assert "${REGISTRY_PASSWORD}" in no_password and "secrets_file" in no_password
    (no_user,) = registry_problems(RegistryConfig(password="b"), REPO)
    assert "registry.username" in no_user
    (nowhere,) = registry_problems(RegistryConfig(username="a", password="b"), "")
    assert "registry.server" in nowhere


def _config_file(tmp_path: Path, registry_table: str) -> Path:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"REGISTRY_PASSWORD={PASSWORD}\n")
    path = tmp_path / "bluegreen.toml"
    path.write_text(
        f"""state_dir = "{tmp_path / "state"}"
secrets_file = "{secrets}"
[image]
repository = "{REPO}"
[slots.blue]
container = "b"
host_port = 20001
[slots.green]
container = "g"
host_port = 20002
{registry_table}"""
    )
    return path


def test_the_password_comes_from_the_secrets_file_and_is_a_secret(tmp_path: Path) -> None:
    table = '[registry]\nusername = "deploy"\npassword = "${REGISTRY_PASSWORD}"\n'
    config = load_config(str(_config_file(tmp_path, table)))
    assert config.registry.password == PASSWORD
    assert PASSWORD in config.secret_values  # so every redactor masks it
    with pytest.raises(ConfigError, match=r"registry\.username is set without registry\.password"):
        load_config(str(_config_file(tmp_path, '[registry]\nusername = "deploy"\n')))


def test_secrets_credentials_go_only_to_their_own_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    config = RegistryConfig(username="deploy", password=PASSWORD)
    creds = credentials_for(f"{REPO}:v1", config, REPO)
    assert creds.source == SECRETS and creds.registry == "registry.example.com:5000"
    assert creds.auth["password"] == PASSWORD and PASSWORD not in repr(creds)
    elsewhere = credentials_for("other.example.com/app:v1", config, REPO)
    assert elsewhere.source == NONE and elsewhere.auth == {}
    hub = credentials_for("team/app:v1", RegistryConfig(username="u", password="p"), "team/app")
    assert hub.source == SECRETS and hub.registry == "docker.io"


def test_engine_credentials_are_what_docker_login_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = tmp_path / "docker"
    engine.mkdir()
    token = base64.b64encode(f"deploy:{PASSWORD}".encode()).decode()
    (engine / "config.json").write_text(
        json.dumps({"auths": {"registry.example.com:5000": {"auth": token}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(engine))
    creds = credentials_for(f"{REPO}:v1", RegistryConfig(), REPO)
    assert creds.source == ENGINE_CONFIG and creds.username == "deploy"
    assert creds.auth["password"] == PASSWORD
    assert creds.where == str(engine / "config.json")
    monkeypatch.delenv("DOCKER_CONFIG")
    explicit = credentials_for(f"{REPO}:v1", RegistryConfig(docker_config=str(engine)), REPO)
    assert explicit.source == ENGINE_CONFIG
    assert credentials_for("other.example.com/x:v1", RegistryConfig(), REPO).source == NONE


@pytest.mark.parametrize(
    ("creds", "expected"),
    [
        (Credentials("r:5000", SECRETS, "deploy"), "refused the password of user deploy"),
        (
            Credentials("r:5000", ENGINE_CONFIG, "deploy", "/root/.docker/config.json"),
            "docker login r:5000",
        ),
        (Credentials("r:5000", NONE), "wants a login"),
    ],
)
def test_a_refusal_is_one_sentence_naming_the_registry(creds: Credentials, expected: str) -> None:
    sentence = refusal("r:5000/app:v1", creds, "unauthorized: authentication required")
    assert sentence is not None and expected in sentence and "r:5000" in sentence
    assert sentence.count(". ") == 0 and sentence.endswith("retry.")


def test_tls_and_other_errors() -> None:
    creds = Credentials("r:5000", SECRETS, "deploy")
    untrusted = refusal("r:5000/a:v1", creds, 'Get "https://r:5000/v2/": x509: certificate …')
    assert untrusted is not None and "/etc/docker/certs.d/r:5000/ca.crt" in untrusted
    assert refusal("r:5000/a:v1", creds, "manifest unknown: manifest unknown") is None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state")
    yield opened
    opened.close()


def test_a_pull_is_kept_with_its_deployment_and_joins_its_phases(store: Store) -> None:
    pulled = store.create_deployment("blue", "r/a:v1", "v1", SwitchPolicy.CONFIRM, "me", {}, None)
    present = store.create_deployment("green", "r/a:v1", "v1", SwitchPolicy.CONFIRM, "me", {}, None)
    arrival = ImageArrival("sha256:1", "pulled", 2.5, 4_000_000, "r:5000", SECRETS, time.time())
    record_image_arrival(store, pulled.id, arrival)
    record_image_arrival(store, present.id, ImageArrival("sha256:1", "present", 0.0, 4_000_000))
    found = image_arrivals(store, [pulled.id, present.id, 99])
    assert found == {
        pulled.id: arrival,
        present.id: ImageArrival("sha256:1", "present", 0.0, 4_000_000),
    }
    (blue,) = [d for d in store.deployments(limit=5) if d.id == pulled.id]
    assert blue.phases["pulled"] - blue.phases["pulling"] == pytest.approx(2.5)
    assert list(blue.phases)[:3] == ["pulling", "pulled", "created"]
    (green,) = [d for d in store.deployments(limit=5) if d.id == present.id]
    assert "pulling" not in green.phases
