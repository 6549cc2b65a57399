"""The Docker Engine API's documents turned into the runtime contract's values
(console/core/contracts/runtime.py): inspect → `ContainerInfo`, restart policies, timestamps,
image names. Pure parsing, no I/O; `runtime` does the talking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from console.core.contracts.runtime import ContainerInfo

ON_FAILURE_DEFAULT_RETRIES = 5  # a crash loop stops by itself; the console reports it as FAILED


def container_info(attrs: dict[str, Any], redact: Callable[[str], str]) -> ContainerInfo:
    """The engine's inspect document → ContainerInfo; the engine's error text is redacted."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    status = str(state.get("Status") or "unknown")
    running = bool(state.get("Running")) and status == "running"
    never_started = status == "created"
    health = (state.get("Health") or {}).get("Status")
    error = state.get("Error") or None
    return ContainerInfo(
        name=str(attrs.get("Name", "")).lstrip("/"),
        id=str(attrs.get("Id", "")),
        image=familiar_image(str(config.get("Image") or attrs.get("Image") or "")),
        labels=dict(config.get("Labels") or {}),
        state=status,
        running=running,
        exit_code=None if running or never_started else int(state.get("ExitCode") or 0),
        health=str(health) if health else None,
        restart_count=int(attrs.get("RestartCount") or 0),
        started_at=parse_docker_time(state.get("StartedAt")),
        finished_at=parse_docker_time(state.get("FinishedAt")),
        error=redact(str(error)) if error else None,
        oom_killed=bool(state.get("OOMKilled")),
        pid=int(state.get("Pid") or 0) if running else 0,
        host_network=(attrs.get("HostConfig") or {}).get("NetworkMode") == "host",
    )


# Docker Hub's fully qualified prefixes, longest first; Docker itself answers the short form.
_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/")


def familiar_image(ref: str) -> str:
    """`ref` as Docker writes it: Podman's Docker API answers Config.Image fully qualified
    (`docker.io/bluegreen/webapp:v2` for a container created from `bluegreen/webapp:v2`), so the
    same container would show another image on Podman than on Docker. The two names are the same
    reference by Docker's grammar; `localhost/…` (Podman's name for loaded images) is kept, since
    there `localhost` is a registry host and dropping it would name another image."""
    for prefix in _HUB_PREFIXES:
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return ref[len(prefix) :]
    return ref


def restart_policy(text: str) -> dict[str, Any]:
    """`no` | `always` | `unless-stopped` | `on-failure[:N]` → the engine's RestartPolicy."""
    name, _, count = text.strip().partition(":")
    if name in ("no", "always", "unless-stopped") and not count:
        return {"Name": name}
    if name == "on-failure" and (not count or count.isdigit()):
        retries = int(count) if count else ON_FAILURE_DEFAULT_RETRIES
        return {"Name": "on-failure", "MaximumRetryCount": retries}
    raise ValueError(
        f"Restart policy '{text}' is not one of no, always, unless-stopped, on-failure[:N]."
    )


def parse_docker_time(value: object) -> float | None:
    """Docker's RFC 3339 timestamps (nanoseconds, 'Z') → epoch seconds; the zero time → None."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00")
    date_time, dot, rest = text.partition(".")
    if dot:  # trim nanoseconds to the microseconds Python parses, keep the offset
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{date_time}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
