"""The sandbox: a local world to run bluegreen against, in one of several profiles
(console/sandbox/profiles: `explorer` — PostgreSQL, a chain simulator, the stand-in indexer — by
default; `web`; `evm`), with nginx (Lua module) in front and v1 deployed live in blue.

Everything lives in one directory (default /var/lib/bluegreen-sandbox as root, else under
~/.local/state): the config, a 0600 secrets file where the profile has secrets, the store, the
profile's parts, nginx's prefix. Long-running parts (nginx, a chain simulator, the agent) run in
their own sessions so they outlive the shell that started them; `down` stops them by the pids
recorded in sandbox.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from console.core.fsutil import atomic_write
from console.core.listening import bind_error
from console.sandbox.procs import SandboxError, process_alive, spawn, terminate, wait_until
from console.sandbox.profiles import DEFAULT_PROFILE, get_profile
from console.sandbox.profiles.base import DEFAULT_PORT_BASE, Context, Ports, container_prefix

__all__ = ["DEFAULT_PORT_BASE", "Ports", "SandboxError", "container_prefix", "process_alive"]

DEFAULT_HISTORY = 20_000
DEFAULT_SPEED = 400  # blocks/s: 20k blocks of history re-index in about a minute


def default_dir() -> Path:
    explicit = os.environ.get("BLUEGREEN_SANDBOX_DIR")
    if explicit:
        return Path(explicit)
    if os.geteuid() == 0:
        return Path("/var/lib/bluegreen-sandbox")
    state_home = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state_home / "bluegreen-sandbox"


def sandbox_config_path(directory: Path | None = None) -> Path | None:
    info = (directory or default_dir()) / "sandbox.json"
    if not info.exists():
        return None
    config = (directory or default_dir()) / "bluegreen.toml"
    return config if config.exists() else None


@dataclass
class SandboxInfo:
    dir: str
    config: str
    proxy_url: str
    admin_url: str
    ports: dict[str, int]
    images: list[str]
    containers: list[str]
    pids: dict[str, int] = field(default_factory=dict)
    history: int = DEFAULT_HISTORY
    speed: int = DEFAULT_SPEED
    profile: str = DEFAULT_PROFILE  # sandboxes made before profiles existed are explorers
    service: str = "explorer"

    def save(self) -> None:
        atomic_write(Path(self.dir) / "sandbox.json", json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> SandboxInfo | None:
        try:
            data = json.loads((directory / "sandbox.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(**data)


def up(
    directory: Path | None = None,
    history: int = DEFAULT_HISTORY,
    speed: int = DEFAULT_SPEED,
    port_base: int = DEFAULT_PORT_BASE,
    say: Callable[[str], None] = print,
    profile: str = DEFAULT_PROFILE,
    docker_host: str = "",
) -> SandboxInfo:
    from console.sandbox import images
    from console.sandbox.nginx_proc import NginxProcess

    kind = get_profile(profile)
    directory = (directory or default_dir()).resolve()
    existing = SandboxInfo.load(directory)
    if existing and process_alive(existing.pids.get("nginx")):
        if existing.profile != kind.name:
            raise SandboxError(
                f"The sandbox in {directory} is up with profile '{existing.profile}', not "
                f"'{kind.name}'. Run `bluegreen sandbox down` first, or give another --dir."
            )
        say(f"The sandbox in {directory} is already up.")
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # the postgres user must traverse it to its cluster
    ports = Ports.from_base(port_base)
    busy = _ports_in_use(ports, _ports_used(kind.extra_ports))
    if busy:
        # Checked first: nginx would fail to bind, and the error would surface later as a
        # confusing reload failure — or another sandbox's nginx would answer in its place.
        raise SandboxError(
            f"Ports in use on 127.0.0.1: {', '.join(busy)}. Another sandbox (or something else) "
            f"listens there: pass another --port-base, or `bluegreen sandbox down --dir DIR` "
            "the sandbox that holds them."
        )

    say(f"Building images (offline): base, {kind.repository} v1 and v2…")
    try:
        client = images.engine_client(docker_host)
        image_refs = [
            images.build_image(tag, repository=kind.repository, client=client)
            for tag in ("v1", "v2")
        ]
        gateway = images.docker_gateway_ip("bridge", client)
    except Exception as exc:
        raise SandboxError(f"Could not build the sandbox images: {exc}") from exc

    ctx = Context(directory, ports, history, speed, gateway, say, docker_host)
    pids = kind.start(ctx)

    config_path = directory / "bluegreen.toml"
    atomic_write(config_path, kind.render_config(ctx), mode=0o644)
    from console.core.config import load_config
    from console.drivers.nginx import NginxDriver

    config = load_config(str(config_path))
    say(f"Starting nginx (Lua live switching) on 127.0.0.1:{ports.proxy}…")
    nginx = NginxProcess(
        directory / "nginx", ports.proxy, ports.admin, directory / "nginx" / "bluegreen"
    )
    nginx.write_main_conf()
    driver = NginxDriver(config)
    driver.write_files("blue")
    pids["nginx"] = spawn(
        ["nginx", "-p", str(nginx.prefix_dir), "-c", str(nginx.conf_path)],
        directory / "nginx" / "logs" / "stderr.log",
    )
    wait_until(lambda: driver.read_back().answered, 10, "nginx did not answer on its admin socket")
    driver.install("blue")

    info = SandboxInfo(
        dir=str(directory),
        config=str(config_path),
        proxy_url=f"http://127.0.0.1:{ports.proxy}",
        admin_url=f"unix:{config.admin_socket_path}",
        ports={name: getattr(ports, name) for name in _ports_used(kind.extra_ports)},
        images=image_refs,
        containers=[f"{container_prefix(kind.service, port_base)}-{c}" for c in ("blue", "green")],
        pids=pids,
        history=history,
        speed=speed,
        profile=kind.name,
        service=kind.service,
    )
    info.save()
    _deploy_v1(config, dict(kind.v1_env), say)
    return info


def _ports_used(extra: tuple[str, ...]) -> list[str]:
    return ["proxy", "blue", "green", "admin", "metrics", *extra]


def _ports_in_use(ports: Ports, names: list[str]) -> list[str]:
    """`name port` for each port something already listens on."""
    taken = ((name, getattr(ports, name)) for name in names)
    return [f"{name} {port}" for name, port in taken if bind_error("127.0.0.1", port)]


def _deploy_v1(config: object, env: dict[str, str], say: Callable[[str], None]) -> None:
    """Bring v1 up in blue and make it live, fast (the demo is about v2's catch-up)."""
    from console.core.config import Config
    from console.core.model import Outcome, SlotState, SwitchPolicy
    from console.core.service import Console

    assert isinstance(config, Config)
    console = Console.open(config)
    try:
        if (
            console.status().live == "blue"
            and console.status().slots["blue"].state == SlotState.LIVE
        ):
            return
        say("Deploying v1 into blue and switching it live…")
        for event in console.deploy("v1", env=env, policy=SwitchPolicy.AUTO):
            if isinstance(event, Outcome) and not event.ok:
                raise SandboxError(f"Deploying v1 failed: {event.text}")
        wait_until(
            lambda: (
                console.status().live == "blue"
                and console.status().slots["blue"].state == SlotState.LIVE
            ),
            120,
            "blue (v1) did not become live",
        )
    finally:
        console.close()


def down(directory: Path | None = None, say: Callable[[str], None] = print) -> None:
    from console.core.config import load_config
    from console.core.installation import LABEL_SERVICE, Installation

    directory = (directory or default_dir()).resolve()
    info = SandboxInfo.load(directory)
    if info is None:
        say(f"No sandbox in {directory}.")
        return
    with contextlib.suppress(Exception):
        inst = Installation(load_config(info.config))
        agent = inst.agent_lease.info()
        terminate(agent.pid)
        for container in inst.runtime.list_by_label(LABEL_SERVICE, info.service):
            if container.name in info.containers:
                inst.runtime.stop(container.name, timeout=2)
                inst.runtime.remove(container.name)
    terminate(info.pids.get("chain"))
    terminate(info.pids.get("nginx"), signal.SIGQUIT)
    with contextlib.suppress(SandboxError):
        get_profile(info.profile).stop(directory, info.ports)
    # The stand-in images are kept, like the base image: another sandbox on this host (the tests',
    # running in parallel) may be about to deploy the same tags, and Docker only refuses to remove
    # an image a container is using *now* — removing them here broke its next deploy.
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    say(f"Sandbox in {directory} removed (the cached images are kept: bluegreen-base, stand-ins).")


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
    }
