"""Issue 12 point 4 on real parts: the `web` sandbox profile on a real Podman service (Debian's
`podman`, its Docker API over `podman system service`), images imported offline from Docker
(`docker save | podman load`), deploy → switch → rollback through nginx.

The Podman here is private to the test: its containers.conf and storage.conf are written into a
temporary directory and passed by CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, so its storage,
run state, network definitions and events log live there and the machine's global Podman and
Docker configuration is never touched. Settings a container host without systemd needs:
cgroupfs (no systemd to ask for cgroups), the file events backend (no journald), runc.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from console.core.contracts.runtime import ContainerSpec
from console.drivers.docker.runtime import DockerRuntime
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

PORT_BASE = ports.PODMAN.start
BASE_IMAGE = "bluegreen-base:bookworm"
# Below this machine's hard limits: Podman sets rlimits on every container (see README).
ULIMITS = {"nofile": "4096:16384", "nproc": "4096:8192"}


@dataclass
class Podman:
    url: str  # unix:///run/…/podman.sock
    env: dict[str, str]  # os.environ + this Podman's CONTAINERS_CONF / CONTAINERS_STORAGE_CONF

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=30)


def _write_confs(home: Path, run: Path, driver: str) -> dict[str, str]:
    (home / "containers.conf").write_text(
        f"""[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{home / "events.log"}"
runtime = "runc"
tmp_dir = "{run / "libpod"}"
static_dir = "{home / "storage" / "libpod"}"
volume_path = "{home / "storage" / "volumes"}"

[network]
network_backend = "netavark"
network_config_dir = "{home / "networks"}"
"""
    )
    (home / "storage.conf").write_text(
        f"""[storage]
driver = "{driver}"
graphroot = "{home / "storage"}"
runroot = "{run / "storage"}"
"""
    )
    return {
        **os.environ,
        "CONTAINERS_CONF": str(home / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(home / "storage.conf"),
    }


def _missing() -> str | None:
    """Why this machine cannot run the test at all, or None. Everything else must work."""
    if shutil.which("podman") is None:
        return "podman is not installed (Debian package `podman`; ./dev setup installs it)"
    if shutil.which("runc") is None:
        return "runc (Podman's OCI runtime here) is not installed; ./dev setup installs it"
    if os.geteuid() != 0:
        return "the private Podman service runs rootful (storage, /run, netavark): run as root"
    return None


@pytest.fixture(scope="module")
def podman(base_image: str) -> Iterator[Podman]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    home = Path(tempfile.mkdtemp(prefix="bluegreen-podman-", dir="/var/tmp"))
    run = Path("/run") / home.name
    run.mkdir(mode=0o700)
    socket = run / "podman.sock"
    # Native overlay where the kernel allows it (here: yes); vfs (slow, always works) otherwise.
    env = _write_confs(home, run, "overlay")
    engine = Podman(f"unix://{socket}", env)
    if engine.run("info").returncode != 0:
        env = _write_confs(home, run, "vfs")
        engine = Podman(f"unix://{socket}", env)
    service: subprocess.Popen[bytes] | None = None
    try:
        loaded = subprocess.run(
            f"docker save {base_image} | podman load",
            shell=True,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        with (home / "service.log").open("wb") as log:
            service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", engine.url],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if engine.client().ping():
                    break
            except docker.errors.DockerException:
                pass
            assert service.poll() is None, (home / "service.log").read_text()
            assert time.monotonic() < deadline, "podman system service did not answer in 30 s"
            time.sleep(0.2)
        _assert_podman(engine)
        yield engine
    finally:
        engine.run("rm", "--all", "--force", "--time", "0")
        if service is not None:
            service.terminate()
            service.wait(timeout=30)
        engine.run("system", "reset", "--force", timeout=120)
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def _assert_podman(engine: Podman) -> None:
    """Every test here proves nothing if the socket is a Docker Engine's (checked by the fixture,
    so a test run alone by node id checks it too)."""
    version = engine.client().version()
    components = [c.get("Name") for c in version.get("Components") or []]
    assert "Podman Engine" in components, version
    assert "BuildahVersion" in engine.client().info()  # Podman builds through Buildah


def test_the_engine_is_podman(podman: Podman) -> None:
    _assert_podman(podman)
    assert "Podman Engine" not in [
        c.get("Name") for c in docker.from_env().version().get("Components") or []
    ]  # and the check tells them apart: the machine's Docker Engine is not Podman


def test_runtime_driver_on_podman(podman: Podman) -> None:
    """What the agent reads from the engine, as Podman answers it: an on-failure restart loop
    shows in RestartCount and ends after the retries; no HEALTHCHECK reads as no health
    (Podman answers an empty Status where Docker omits Health); exec, logs, labels, stop."""
    runtime = DockerRuntime(podman.url)
    name = f"bluegreen-podman-{PORT_BASE}-crash"
    spec = ContainerSpec(
        name=name,
        image=BASE_IMAGE,
        command=["sh", "-c", "echo boom; sleep 0.5; exit 3"],
        env={},
        labels={"bluegreen.test": "podman"},
        host_port=PORT_BASE + 9,
        container_port=8080,
        restart_policy="on-failure:2",
        ulimits=ULIMITS,
    )
    try:
        first = runtime.start(spec)
        assert first.running and first.health is None and first.labels["bluegreen.test"]
        deadline = time.monotonic() + 30
        while (info := runtime.inspect(name)) is not None and info.running:
            assert time.monotonic() < deadline, info
            time.sleep(0.3)
        assert info is not None and info.exit_code == 3 and info.restart_count == 2
        assert runtime.logs(name, tail=10) == [b"boom"] * 3
        assert [c.name for c in runtime.list_by_label("bluegreen.test", "podman")] == [name]
    finally:
        runtime.remove(name)
    assert runtime.inspect(name) is None


def test_follow_logs_exec_and_stop_on_podman(podman: Podman) -> None:
    """The log follower (log_pattern readiness), exec and the stop timeout, on Podman."""
    runtime = DockerRuntime(podman.url)
    name = f"bluegreen-podman-{PORT_BASE}-follow"
    spec = ContainerSpec(
        name=name,
        image=BASE_IMAGE,
        # Lines only after the follower attached (tail=0 is "from now", as on Docker); SIGTERM
        # ignored, so only the stop timeout's SIGKILL ends it.
        command=[
            "sh",
            "-c",
            "trap '' TERM; sleep 2; for i in 1 2 3; do echo line $i; sleep 0.2; done; sleep 60",
        ],
        env={},
        labels={},
        host_port=PORT_BASE + 8,
        container_port=8080,
        stop_timeout=2,
        ulimits=ULIMITS,
    )
    try:
        runtime.start(spec)
        stop = threading.Event()
        lines = []
        for line in runtime.follow_logs(name, stop):
            lines.append(line)
            if len(lines) == 3:
                stop.set()
        assert lines == [b"line 1", b"line 2", b"line 3"]
        assert runtime.exec_ok(name, ["true"]) and not runtime.exec_ok(name, ["false"])
        started = time.monotonic()
        runtime.stop(name)  # Podman answers Config.StopTimeout (2 s here), as Docker does
        assert 1.5 < time.monotonic() - started < 8
        info = runtime.inspect(name)
        assert info is not None and not info.running and info.exit_code == 137
    finally:
        runtime.remove(name)


def test_podman_refuses_containers_without_explicit_ulimits(podman: Podman) -> None:
    """Why the sandbox writes [runtime] ulimits for another engine: with none given, Podman sets
    nofile 1048576 (and nproc 32768 here) on every container, above this host's hard nofile
    limit, and runc may not raise it ("error setting rlimit type 7"; with only nofile given,
    "type 6" = nproc fails here too)."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if nofile == resource.RLIM_INFINITY or nofile >= 1048576:
        pytest.skip(f"this host's hard nofile limit ({nofile}) allows Podman's default")
    result = podman.run("run", "--rm", BASE_IMAGE, "true")
    assert result.returncode != 0 and "error setting rlimit" in result.stderr, result.stderr
    explicit = [f"--ulimit={name}={value}" for name, value in ULIMITS.items()]
    result = podman.run("run", "--rm", *explicit, BASE_IMAGE, "true")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def web(podman: Podman) -> Iterator[Sandbox]:
    directory = Path(tempfile.mkdtemp(prefix="bluegreen-podman-web-", dir="/var/tmp"))
    os.chmod(directory, 0o755)
    world = Sandbox(
        directory, directory / "bluegreen.toml", f"http://127.0.0.1:{PORT_BASE}", "", "web"
    )
    try:
        result = world.cli(
            "sandbox",
            "up",
            "--profile",
            "web",
            "--dir",
            str(directory),
            "--port-base",
            str(PORT_BASE),
            "--docker-host",
            podman.url,
            timeout=400,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield world
    finally:
        tear_down(directory)


def _body(world: Sandbox) -> str:
    return httpx.get(f"{world.proxy_url}/", timeout=5).text


def test_web_profile_deploy_switch_rollback_on_podman(podman: Podman, web: Sandbox) -> None:
    blue, green = f"webapp-{PORT_BASE}-blue", f"webapp-{PORT_BASE}-green"
    on_podman = podman.client()
    assert on_podman.containers.get(blue).status == "running"
    with pytest.raises(docker.errors.NotFound):  # on Podman, and not on the Docker Engine
        docker.from_env().containers.get(blue)
    assert web.status()["live"] == "blue" and web.served_by() == "blue"
    assert "webapp v1" in _body(web)

    result = web.cli("deploy", "v2", "--switch", "never", "--wait", timeout=200)
    assert result.returncode == 0, result.stdout + result.stderr
    status = web.status()
    assert status["slots"]["green"]["state"] == "ready", status
    # Podman answers docker.io/bluegreen/webapp:v2; the driver shows it as Docker does.
    assert status["slots"]["green"]["image"] == "bluegreen/webapp:v2", status
    assert on_podman.containers.get(green).status == "running"
    assert web.served_by() == "blue"  # ready is not live

    result = web.cli("switch", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert web.served_by() == "green" and "webapp v2" in _body(web)
    assert web.status()["live"] == "green"

    result = web.cli("rollback", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert web.served_by() == "blue" and "webapp v1" in _body(web)
    assert web.status()["live"] == "blue"
