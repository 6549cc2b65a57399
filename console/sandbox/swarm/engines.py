"""Each node's Docker Engine: started in the node's namespace through node.sh, with its own data
root, exec root, socket, hostname and cgroup parent, and stopped with everything it started.

A node's engine leaves processes in three places, and `kill_engine` looks in all of them:
the namespace (dockerd, its containerd, the containerd shims), the cgroup parent named after the
node (every container's processes — they live in namespaces of their own), and any process still
naming the node's directory (a dockerd whose namespace was already deleted).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from console.sandbox.procs import processes_naming, spawn
from console.sandbox.swarm.links import BedError, pids_in

NODE_SCRIPT = Path(__file__).with_name("node.sh")
CGROUP_ROOT = Path("/sys/fs/cgroup")
KILL_WAIT_SECONDS = 10.0


def cgroup_mounts() -> list[str]:
    """The host's cgroup hierarchies as node.sh mounts them again: `TYPE:OPTIONS:TARGET`, with
    only the options that name the hierarchy (its controllers, `name=systemd`)."""
    controllers = _controllers()
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, target, kind, options, *_ = line.split()
        if kind == "cgroup2" and target.startswith(str(CGROUP_ROOT)):
            found.append(f"cgroup2::{target}")
        elif kind == "cgroup" and target.startswith(str(CGROUP_ROOT)):
            names = [o for o in options.split(",") if o in controllers or o.startswith("name=")]
            if any(o.startswith("name=") for o in names) and len(names) == 1:
                names.insert(0, "none")  # a named hierarchy without controllers
            found.append(f"cgroup:{','.join(names)}:{target}")
    return found


def _controllers() -> set[str]:
    with contextlib.suppress(OSError):
        lines = Path("/proc/cgroups").read_text().splitlines()[1:]
        return {line.split()[0] for line in lines if line.strip()}
    return set()


def dockerd_argv(name: str, directory: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The command that starts node `name`'s engine in its namespace (named `name` too)."""
    return [
        "ip",
        "netns",
        "exec",
        name,
        "unshare",
        "--uts",
        "sh",
        str(NODE_SCRIPT),
        name,
        *cgroup_mounts(),
        "--",
        "--data-root",
        str(directory / "data"),
        "--exec-root",
        str(directory / "exec"),
        "--pidfile",
        str(directory / "docker.pid"),
        "-H",
        f"unix://{directory / 'docker.sock'}",
        "--storage-driver",
        "overlay2",
        # Every container of this node under /NAME in each hierarchy: how `kill_engine` finds
        # them, and how the host's own engine's containers (under /docker) are never touched.
        "--cgroup-parent",
        f"/{name}",
        *extra,
    ]


def start_engine(name: str, directory: Path, extra: tuple[str, ...] = ()) -> int:
    """Start node `name`'s dockerd in its own session (it outlives the caller); its pid."""
    directory.mkdir(parents=True, exist_ok=True)
    return spawn(dockerd_argv(name, directory, extra), directory / "dockerd.log")


def wait_answering(name: str, socket: Path, seconds: float) -> None:
    """Wait until node `name`'s engine answers on `socket`, or say where its log is."""
    import docker

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if socket.exists():
            with contextlib.suppress(Exception):
                client = docker.DockerClient(base_url=f"unix://{socket}", timeout=5)
                try:
                    client.ping()
                    return
                finally:
                    client.close()
        time.sleep(0.05)
    raise BedError(
        f"Node {name}'s Docker Engine did not answer on {socket} within {seconds:.0f} s: see "
        f"{socket.parent / 'dockerd.log'}."
    )


def engine_pids(name: str, directory: Path) -> set[int]:
    """Every process node `name`'s engine started: see the module's docstring."""
    found = set(pids_in(name))
    for hierarchy in _hierarchies():
        for procs in (hierarchy / name).rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                found.update(int(pid) for pid in procs.read_text().split())
    found.update(processes_naming(directory))  # this process and its parents excepted
    return found


def kill_engine(name: str, directory: Path) -> list[int]:
    """SIGKILL node `name`'s engine, its containerd and shims, and its containers' processes: the
    host dies at once, as when its power goes. Returns the pids still alive afterwards."""
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    alive = engine_pids(name, directory)
    while alive and time.monotonic() < deadline:
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        alive = {pid for pid in engine_pids(name, directory) if _alive(pid)}
    return sorted(alive)


def remove_cgroups(name: str) -> list[str]:
    """Remove the cgroup directories under /NAME in each hierarchy; return those that stay."""
    left = []
    for hierarchy in _hierarchies():
        top = hierarchy / name
        if not top.is_dir():
            continue
        for directory in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if directory.is_dir():
                with contextlib.suppress(OSError):
                    directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
        if top.exists():
            left.append(f"cgroup {top}")
    return left


def _hierarchies() -> list[Path]:
    return [Path(mount.rsplit(":", 1)[1]) for mount in cgroup_mounts()]


def _alive(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False
