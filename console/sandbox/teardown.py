"""`sandbox down`: stop and remove everything a sandbox made, from its record (sandbox.json) and
the raw text of its configuration — never through the config's validation."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

from console.sandbox.info import HOST_FILE, SandboxInfo, default_dir
from console.sandbox.procs import SandboxError, processes_naming, terminate
from console.sandbox.profiles import get_profile


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
    host, services = _raw_configuration(Path(info.config))
    state_dir = Path(str(host.get("state_dir") or directory / "state"))
    runtime = host.get("runtime")
    docker_host = info.docker_host or (
        str(runtime.get("docker_host") or "") if isinstance(runtime, dict) else ""
    )
    renamed = [  # an operator may have renamed the slots' containers since `up`
        str(slot["container"])
        for settings in services
        for slot in _table(settings.get("slots")).values()
        if isinstance(slot, dict) and slot.get("container")
    ]
    containers = sorted({*info.containers, *renamed})
    left: list[str] = []
    # The host's agent (one for the fleet) and each service's own (one per state directory).
    for agent_dir in (state_dir, *(state_dir / name for name in info.service_names())):
        with contextlib.suppress(Exception):
            terminate(AgentLease(agent_dir).info().pid)
    left += _remove_containers(containers, LABEL_SERVICE, info.service_names(), docker_host)
    for name, pid in info.pids.items():
        terminate(pid, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
    for recorded in _recorded_services(info).values():
        with contextlib.suppress(SandboxError):
            get_profile(str(recorded["profile"])).stop(Path(str(recorded["parts"])), info.ports)
    for pid in processes_naming(directory):
        terminate(pid)
    left += [f"process {pid} ({_cmdline(pid)})" for pid in processes_naming(directory)]
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


def _recorded_services(info: SandboxInfo) -> dict[str, dict[str, object]]:
    """Each service's profile and parts directory; a sandbox made before fleets has one."""
    return info.services or {info.service: {"profile": info.profile, "parts": info.dir}}


def _raw_configuration(config: Path) -> tuple[dict[str, object], list[dict[str, object]]]:
    """(host-wide settings, each service's) of a config file or a fleet's directory."""
    if not config.is_dir():
        settings = _raw_settings(config)
        return settings, [settings]
    files = sorted(p for p in config.glob("*.toml") if p.name != HOST_FILE)
    return _raw_settings(config / HOST_FILE), [_raw_settings(p) for p in files]


def _table(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _raw_settings(config: Path) -> dict[str, object]:
    """The config file as plain TOML, unvalidated (`{}` if it is not even TOML): what `down`
    needs from it must be readable when the config no longer passes validation."""
    import tomllib

    try:
        return tomllib.loads(config.read_text())
    except (OSError, ValueError):
        return {}


def _remove_containers(
    names: list[str], label: str, services: list[str], docker_host: str
) -> list[str]:
    """Remove the sandbox's containers — by name, and those its label marks as one of its
    services' under one of those names (a stopped one too); return those still there."""
    import docker
    import docker.errors

    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        labelled = [
            container
            for service in services
            for container in client.containers.list(
                all=True, filters={"label": f"{label}={service}"}
            )
        ]
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


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return "gone"
