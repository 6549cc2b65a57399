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
    docker_host: str = ""  # the engine the containers run on ("" = $DOCKER_HOST / local)

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
    from console.core.config.load import load_config
    from console.drivers.proxy import make_proxy

    config = load_config(str(config_path))
    say(f"Starting nginx (Lua live switching) on 127.0.0.1:{ports.proxy}…")
    nginx = NginxProcess(
        directory / "nginx", ports.proxy, ports.admin, directory / "nginx" / "bluegreen"
    )
    nginx.write_main_conf()
    driver = make_proxy(config)  # the profile's [proxy]: nginx, live mode
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
        docker_host=docker_host,
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
    from console.core.config.schema import Config
    from console.core.model import Outcome, SlotState, SwitchPolicy
    from console.wiring import open_console

    assert isinstance(config, Config)
    console = open_console(config)
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


def down(directory: Path | None = None, say: Callable[[str], None] = print) -> list[str]:
    """Stop and remove everything the sandbox in `directory` made; return what could not be
    removed (empty when all is gone).

    Nothing here depends on the config parsing: an operator may have edited it into something
    this version refuses (an unknown key), and `down` must still find the agent (by the pid its
    lease records in the state dir), the containers (by name and label, on the engine recorded
    at `up`) and the host processes (by their recorded pids, then any process still naming the
    directory on its command line)."""
    from console.core.installation import LABEL_SERVICE
    from console.core.lock import AgentLease

    directory = (directory or default_dir()).resolve()
    info = SandboxInfo.load(directory)
    if info is None:
        say(f"No sandbox in {directory}.")
        return []
    settings = _raw_settings(Path(info.config))
    state_dir = Path(str(settings.get("state_dir") or directory / "state"))
    runtime = settings.get("runtime")
    docker_host = info.docker_host or (
        str(runtime.get("docker_host") or "") if isinstance(runtime, dict) else ""
    )
    slots = settings.get("slots")
    renamed = [  # an operator may have renamed the slots' containers since `up`
        str(slot["container"])
        for slot in (slots.values() if isinstance(slots, dict) else ())
        if isinstance(slot, dict) and slot.get("container")
    ]
    containers = sorted({*info.containers, *renamed})
    left: list[str] = []
    with contextlib.suppress(Exception):
        terminate(AgentLease(state_dir).info().pid)
    left += _remove_containers(containers, LABEL_SERVICE, info.service, docker_host)
    for name, pid in info.pids.items():
        terminate(pid, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
    with contextlib.suppress(SandboxError):
        get_profile(info.profile).stop(directory, info.ports)
    for pid in _processes_naming(directory):
        terminate(pid)
    left += [f"process {pid} ({_cmdline(pid)})" for pid in _processes_naming(directory)]
    # The stand-in images are kept, like the base image: another sandbox on this host (the tests',
    # running in parallel) may be about to deploy the same tags, and Docker only refuses to remove
    # an image a container is using *now* — removing them here broke its next deploy.
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    if directory.exists():
        left.append(f"directory {directory}")
    if left:
        say(f"Sandbox in {directory} only partly removed; still there: {'; '.join(left)}.")
    else:
        say(
            f"Sandbox in {directory} removed (the cached images are kept: bluegreen-base, "
            "stand-ins)."
        )
    return left


def _raw_settings(config: Path) -> dict[str, object]:
    """The config file as plain TOML, unvalidated (`{}` if it is not even TOML): what `down`
    needs from it must be readable when the config no longer passes validation."""
    import tomllib

    try:
        return tomllib.loads(config.read_text())
    except (OSError, ValueError):
        return {}


def _remove_containers(names: list[str], label: str, service: str, docker_host: str) -> list[str]:
    """Remove the sandbox's containers — by name, and those its label marks as the service's
    under one of those names (a stopped one too); return those still there."""
    import docker
    import docker.errors

    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        labelled = client.containers.list(all=True, filters={"label": f"{label}={service}"})
        found = {c.name for c in labelled if c.name in names}
        for name in names:
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(name)
                found.add(name)
        left = []
        for name in sorted(found):
            try:
                client.containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.DockerException as exc:
                left.append(f"container {name} ({exc})")
        return left
    except Exception as exc:  # an engine that is gone fails in requests, not in docker
        where = docker_host or "the local Docker Engine"
        return [f"containers {', '.join(names)} (cannot reach {where}: {exc})"]


def _processes_naming(directory: Path) -> list[int]:
    """Live processes with an argument in `directory` (an agent's --config, nginx's -p,
    PostgreSQL's -D), this process and its ancestors excepted."""
    mine = {os.getpid()}
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = os.getpid()
        while pid > 1:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            mine.add(pid)
    prefix = f"{directory}/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            names_it = any(
                a == str(directory) or a.startswith(prefix) or f"={prefix}" in a for a in args
            )
            if names_it and process_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return "gone"


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
