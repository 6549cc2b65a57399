"""The sandbox: a local world to run bluegreen against — PostgreSQL, a chain simulator, the stand-in
indexer image (v1, v2), nginx with the Lua module — with v1 deployed live in blue.

Everything lives in one directory (default /var/lib/bluegreen-sandbox as root, else under
~/.local/state): the config, a 0600 secrets file, the store, the database cluster, nginx's prefix.
Long-running parts (nginx, the chain simulator, the agent) run in their own sessions so they
outlive the shell that started them; `down` stops them by the pids recorded in sandbox.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from console.core.fsutil import atomic_write

SERVICE = "explorer"
DEFAULT_PORT_BASE = 18080
DEFAULT_HISTORY = 20_000
DEFAULT_SPEED = 400  # blocks/s: 20k blocks of history re-index in about a minute


class SandboxError(Exception):
    """The sandbox could not be brought up or down; the message says what to do."""


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
class Ports:
    proxy: int
    blue: int
    green: int
    admin: int
    postgres: int

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(proxy=base, blue=base + 1, green=base + 2, admin=base + 19, postgres=base + 20)


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

    def save(self) -> None:
        atomic_write(Path(self.dir) / "sandbox.json", json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: Path) -> SandboxInfo | None:
        try:
            data = json.loads((directory / "sandbox.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(**data)


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a long-running child in its own session (it survives this CLI and its terminal)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
    finally:
        os.close(fd)
    return process.pid


def process_alive(pid: int | None) -> bool:
    """True if `pid` runs; a zombie (our own exited child) or a vanished process is not alive."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False  # gone between the two checks


def _terminate(pid: int | None, sig: int = signal.SIGTERM, wait: float = 10.0) -> None:
    if not process_alive(pid):
        return
    assert pid is not None
    with contextlib.suppress(OSError):
        os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.1)
    if process_alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def container_prefix(port_base: int) -> str:
    # A second sandbox (the tests') must not collide with the demo's container names.
    return SERVICE if port_base == DEFAULT_PORT_BASE else f"{SERVICE}-{port_base}"


def render_config(directory: Path, ports: Ports, speed: int) -> str:
    prefix = container_prefix(ports.proxy)
    nginx_dir = directory / "nginx"
    nginx_argv = f'"nginx", "-p", "{nginx_dir}", "-c", "{nginx_dir / "nginx.conf"}"'
    return f'''# Written by `bluegreen sandbox up`. Secrets live in secrets.env (mode 0600).
service = "{SERVICE}"
state_dir = "{directory / "state"}"
secrets_file = "{directory / "secrets.env"}"

[image]
repository = "bluegreen/standin"
command = ["-s", "{{source_db_url}}", "-d", "{{dest_db_url}}",
           "--genesis-json", "/usr/local/share/explorer/genesis.json"]
env = {{ PORT = "{{port}}", INDEX_SPEED = "{speed}" }}
container_port = 8080
restart_policy = "unless-stopped"   # as in production: slots come back with the engine
reset_database = true        # the stand-in re-indexes from scratch, like a release of the explorer
stop_timeout_seconds = 5
start_timeout_seconds = 60

[source]
db_url = "${{SOURCE_DB_URL}}"
host_db_url = "${{SOURCE_HOST_DB_URL}}"

[head]
kind = "sql"
query = "SELECT MAX(height) - 1 FROM blocks"

[candidate]
query = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"

[slots.blue]
container = "{prefix}-blue"
host_port = {ports.blue}
db_url = "${{BLUE_DB_URL}}"
host_db_url = "${{BLUE_HOST_DB_URL}}"

[slots.green]
container = "{prefix}-green"
host_port = {ports.green}
db_url = "${{GREEN_DB_URL}}"
host_db_url = "${{GREEN_HOST_DB_URL}}"

[readiness]
max_lag = 2
hold_seconds = 3
log_pattern = "catchup completed"
health_path = "/health"
smoke_method = "POST"
smoke_path = "/graphql"
smoke_body = '{{"query": "{{ __typename }}"}}'
not_behind_live = true
stall_seconds = 20
sample_interval_seconds = 1.0

[proxy]
kind = "nginx"
mode = "live"
include_dir = "{directory / "nginx" / "bluegreen"}"
proxy_url = "http://127.0.0.1:{ports.proxy}"
probe_path = "/health"
test_command = [{nginx_argv}, "-t", "-q"]
reload_command = [{nginx_argv}, "-s", "reload"]

[switch]
policy = "confirm"
watch_seconds = 60
auto_rollback = true
keep_previous_seconds = 0

[notify]
webhook_url = ""
every_blocks = 5000
'''


def up(
    directory: Path | None = None,
    history: int = DEFAULT_HISTORY,
    speed: int = DEFAULT_SPEED,
    port_base: int = DEFAULT_PORT_BASE,
    say: Callable[[str], None] = print,
) -> SandboxInfo:
    from console.sandbox import chain, images
    from console.sandbox.nginx_proc import NginxProcess
    from console.sandbox.postgres_proc import PostgresServer

    directory = (directory or default_dir()).resolve()
    existing = SandboxInfo.load(directory)
    if existing and process_alive(existing.pids.get("nginx")):
        say(f"The sandbox in {directory} is already up.")
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # the postgres user must traverse it to its cluster
    ports = Ports.from_base(port_base)

    say("Building images (offline): base, stand-in v1 and v2…")
    try:
        image_refs = [images.build_standin(tag) for tag in ("v1", "v2")]
        gateway = images.docker_gateway_ip("bridge")
    except Exception as exc:
        raise SandboxError(f"Could not build the sandbox images: {exc}") from exc

    say(f"Starting PostgreSQL on 127.0.0.1:{ports.postgres} and {gateway}:{ports.postgres}…")
    secrets_path = directory / "secrets.env"
    password = _sandbox_password(secrets_path)
    pg = PostgresServer(directory / "pg", ports.postgres, password, listen=("127.0.0.1", gateway))
    pg.start()
    pg.wait_ready()
    # Containers reach the cluster through the bridge gateway; this host through loopback.
    host_urls = {
        name: pg.create_database(db)
        for name, db in (
            ("SOURCE", "chain"),
            ("BLUE", "explorer_blue"),
            ("GREEN", "explorer_green"),
        )
    }
    lines = [
        f"{name}_HOST_DB_URL={url}\n{name}_DB_URL={url.replace('127.0.0.1', gateway)}\n"
        for name, url in host_urls.items()
    ]
    atomic_write(secrets_path, "".join(lines) + f"SANDBOX_PG_PASSWORD={password}\n")

    say(f"Seeding {history:,} blocks of chain history and starting the chain simulator…")
    chain.create_schema(host_urls["SOURCE"])
    if chain.head(host_urls["SOURCE"]) < history - 2:
        chain.seed_history(host_urls["SOURCE"], history)
    pids: dict[str, int] = {}
    pids["chain"] = _spawn(
        [
            sys.executable,
            "-m",
            "console.sandbox.chain",
            "--db-url-env",
            "CHAIN_DB_URL",
            "--history",
            "0",
            "--interval",
            "1.0",
        ],
        directory / "chain.log",
        env={**os.environ, "CHAIN_DB_URL": host_urls["SOURCE"]},
    )

    config_path = directory / "bluegreen.toml"
    atomic_write(config_path, render_config(directory, ports, speed), mode=0o644)
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
    pids["nginx"] = _spawn(
        ["nginx", "-p", str(nginx.prefix_dir), "-c", str(nginx.conf_path)],
        directory / "nginx" / "logs" / "stderr.log",
    )
    _wait(lambda: driver.read_back().answered, 10, "nginx did not answer on its admin socket")
    driver.install("blue")

    info = SandboxInfo(
        dir=str(directory),
        config=str(config_path),
        proxy_url=f"http://127.0.0.1:{ports.proxy}",
        admin_url=f"unix:{config.admin_socket_path}",
        ports=asdict(ports),
        images=image_refs,
        containers=[f"{container_prefix(port_base)}-{c}" for c in ("blue", "green")],
        pids=pids,
        history=history,
        speed=speed,
    )
    info.save()
    _deploy_v1(config, say)
    return info


def _sandbox_password(path: Path) -> str:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith("SANDBOX_PG_PASSWORD="):
                return line.split("=", 1)[1]
    return "sbx-" + secrets.token_urlsafe(18)


def _wait(condition: Callable[[], bool], seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.1)
    raise SandboxError(f"{failure} within {seconds:.0f} s.")


def _deploy_v1(config: object, say: Callable[[str], None]) -> None:
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
        say("Deploying v1 into blue (fast index) and switching it live…")
        for event in console.deploy("v1", env={"INDEX_SPEED": "100000"}, policy=SwitchPolicy.AUTO):
            if isinstance(event, Outcome) and not event.ok:
                raise SandboxError(f"Deploying v1 failed: {event.text}")
        _wait(
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
    from console.sandbox.postgres_proc import PostgresServer

    directory = (directory or default_dir()).resolve()
    info = SandboxInfo.load(directory)
    if info is None:
        say(f"No sandbox in {directory}.")
        return
    with contextlib.suppress(Exception):
        inst = Installation(load_config(info.config))
        agent = inst.agent_lease.info()
        _terminate(agent.pid)
        for container in inst.runtime.list_by_label(LABEL_SERVICE, SERVICE):
            if container.name in info.containers:
                inst.runtime.stop(container.name, timeout=2)
                inst.runtime.remove(container.name)
    _terminate(info.pids.get("chain"))
    _terminate(info.pids.get("nginx"), signal.SIGQUIT)
    PostgresServer(directory / "pg", info.ports["postgres"], "").stop()
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
        "dir": info.dir,
        "config": info.config,
        "proxy_url": info.proxy_url,
        "admin_url": info.admin_url,  # unix:PATH — the admin socket, for operators only
        "admin_socket": info.admin_url.removeprefix("unix:"),
        "images": info.images,
        "ports": info.ports,
        "running": running,
    }
