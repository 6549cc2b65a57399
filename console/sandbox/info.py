"""What a sandbox records about itself (sandbox.json in its directory), where it lives, and what
`sandbox status` says from that record alone."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from console.core.fsutil import atomic_write
from console.sandbox.procs import process_alive
from console.sandbox.profiles import DEFAULT_PROFILE

DEFAULT_HISTORY = 20_000
DEFAULT_SPEED = 400  # blocks/s: 20k blocks of history re-index in about a minute
SINGLE_FILE = "bluegreen.toml"  # a one-service sandbox's configuration
HOST_FILE = "host.toml"  # heads a fleet sandbox's configuration directory


def default_dir() -> Path:
    explicit = os.environ.get("BLUEGREEN_SANDBOX_DIR")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/var/lib/bluegreen-sandbox")
    state_home = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state_home / "bluegreen-sandbox"


def sandbox_config_path(directory: Path | None = None) -> Path | None:
    """The configuration of the sandbox in `directory`: its bluegreen.toml, or for a fleet the
    directory itself (host.toml and one file per service); None when no sandbox is there."""
    directory = directory or default_dir()
    if not (directory / "sandbox.json").exists():
        return None
    if (directory / SINGLE_FILE).exists():
        return directory / SINGLE_FILE
    return directory if (directory / HOST_FILE).exists() else None


@dataclass
class SandboxInfo:
    dir: str
    config: str  # a file, or a fleet's directory
    proxy_url: str  # the first service's (a fleet's: every service's is in `services`)
    admin_url: str
    ports: dict[str, int]
    images: list[str]
    containers: list[str]
    pids: dict[str, int] = field(default_factory=dict)
    history: int = DEFAULT_HISTORY
    speed: int = DEFAULT_SPEED
    profile: str = DEFAULT_PROFILE  # sandboxes made before profiles existed are explorers
    service: str = "explorer"  # the first service's name
    docker_host: str = ""  # the engine the containers run on ("" = $DOCKER_HOST / local)
    # name → {"profile", "proxy_url", "admin_url", "containers", "parts"}; {} in sandboxes made
    # before fleets (their one service is `service`).
    services: dict[str, dict[str, object]] = field(default_factory=dict)

    def save(self) -> None:
        atomic_write(Path(self.dir) / "sandbox.json", json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> SandboxInfo | None:
        try:
            data = json.loads((directory / "sandbox.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(**data)

    def service_names(self) -> list[str]:
        return list(self.services) or [self.service]


def status(directory: Path | None = None) -> dict[str, object]:
    directory = (directory or default_dir()).resolve()
    info = SandboxInfo.load(directory)
    if info is None:
        return {"up": False, "dir": str(directory)}
    running = {name: process_alive(pid) for name, pid in info.pids.items()}
    return {
        "up": all(running.values()),
        "profile": info.profile,
        "service": info.service,
        "dir": info.dir,
        "config": info.config,
        "proxy_url": info.proxy_url,
        "admin_url": info.admin_url,  # unix:PATH — the admin socket, for operators only
        "admin_socket": info.admin_url.removeprefix("unix:"),
        "images": info.images,
        "ports": info.ports,
        # The agent's exporter; it answers while an agent runs (deploy starts one).
        "metrics_url": (
            f"http://127.0.0.1:{info.ports['metrics']}/metrics" if "metrics" in info.ports else None
        ),
        "running": running,
        # Each service's own: its name, profile, proxy URL, admin socket, containers.
        "services": info.services
        or {info.service: {"profile": info.profile, "proxy_url": info.proxy_url}},
    }
