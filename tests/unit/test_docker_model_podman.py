"""The inspect documents Podman's Docker API answers (captured from Podman 4.3.1, Debian 12)
read the same as Docker's: the image in Docker's short form, no HEALTHCHECK as no health, the
zero time as never, RestartCount as restarts."""

from __future__ import annotations

from typing import Any

import pytest

from console.drivers.docker.model import container_info, familiar_image


def podman_inspect(state: dict[str, Any], restarts: int = 0) -> dict[str, Any]:
    """A trimmed `GET /containers/NAME/json` from `podman system service` (Podman 4.3.1)."""
    return {
        "Id": "258a80b9bea9" + "0" * 52,
        "Name": "/webapp-28880-green",
        "Image": "sha256:c69d906fbcfaf",
        "RestartCount": restarts,
        "State": {
            "Running": False,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": 0,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": "0001-01-01T00:00:00Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
            # Podman always answers Health, with an empty Status when the image has none.
            "Health": {"Status": "", "FailingStreak": 0, "Log": None},
            **state,
        },
        "Config": {
            # Fully qualified, though the container was created from "bluegreen/webapp:v2".
            "Image": "docker.io/bluegreen/webapp:v2",
            "Labels": {"bluegreen.color": "green", "bluegreen.version": "v2"},
        },
    }


def test_a_running_podman_container_reads_as_on_docker() -> None:
    info = container_info(
        podman_inspect(
            {"Status": "running", "Running": True, "StartedAt": "2026-12-02T01:12:30.740281027Z"}
        ),
        redact=str,
    )
    assert info.name == "webapp-28880-green"
    assert info.image == "bluegreen/webapp:v2"  # as Docker answers it
    assert info.running and info.state == "running" and info.exit_code is None
    assert info.health is None  # Podman's "" is "no HEALTHCHECK", not a health state
    assert info.started_at is not None and info.finished_at is None
    assert info.labels["bluegreen.version"] == "v2" and info.error is None


def test_a_podman_container_that_gave_up_restarting() -> None:
    info = container_info(
        podman_inspect(
            {
                "Status": "exited",
                "ExitCode": 3,
                "StartedAt": "2026-12-02T01:12:31.921532005Z",
                "FinishedAt": "2026-12-02T01:12:32.931861356Z",
            },
            restarts=1,
        ),
        redact=str,
    )
    assert not info.running and info.exit_code == 3 and info.restart_count == 1
    assert info.finished_at is not None and info.started_at is not None
    assert info.finished_at - info.started_at == pytest.approx(1.0103, abs=1e-3)


def test_a_created_podman_container_has_no_exit_code_or_times() -> None:
    info = container_info(podman_inspect({"Status": "created"}), redact=str)
    assert info.exit_code is None and info.started_at is None and info.finished_at is None


@pytest.mark.parametrize(
    ("answered", "familiar"),
    [
        ("docker.io/bluegreen/webapp:v2", "bluegreen/webapp:v2"),
        ("docker.io/library/nginx:1.25", "nginx:1.25"),
        ("index.docker.io/library/nginx@sha256:abc", "nginx@sha256:abc"),
        ("bluegreen/webapp:v2", "bluegreen/webapp:v2"),  # Docker's answer: unchanged
        ("localhost/bluegreen-base:bookworm", "localhost/bluegreen-base:bookworm"),
        ("registry.example.com/team/app:1", "registry.example.com/team/app:1"),
        ("docker.io.example.com/app:1", "docker.io.example.com/app:1"),
        ("", ""),
    ],
)
def test_familiar_image(answered: str, familiar: str) -> None:
    assert familiar_image(answered) == familiar
