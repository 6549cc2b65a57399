"""The first production install as a new user does it, on real parts and outside `sandbox up`.

An nginx.conf written by hand with the lines `bluegreen proxy snippet` prints, a config file
written by hand, an empty state directory; then `proxy install`, `nginx -t`, nginx started, the
first deploy (with each switch policy), switch and rollback — the steps README's production
section walks. The service is the explorer stand-in on a real PostgreSQL and chain simulator: its
readiness is its catch-up, which takes seconds, so a first deploy that went live (or a `--wait`
that returned) before the service had caught up and held it is caught here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from console.core.contracts.proxy import NO_LIVE_TEXT
from console.core.store.store import DB_FILE
from console.sandbox import chain, images
from console.sandbox.postgres_proc import PostgresServer
from tests import ports
from tests.integration.proxy_helpers import operator_nginx_conf

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PROXY_PORT, BLUE_PORT, GREEN_PORT, PG_PORT = ports.FIRST_INSTALL
HISTORY = 3000
SPEED = 600  # blocks/s: a first catch-up of ~5 s, then `hold_seconds`
HOLD = 3
MAX_LAG = 2
PREFIX = "bg-firstinstall"
TAGS = ("fi-v1", "fi-v2")  # our own tags: another sandbox's `down` removes v1/v2
WATERMARK = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


@dataclass
class World:
    """Everything the operator had before bluegreen: a database, a chain, nginx, a service."""

    root: Path
    pg: PostgresServer
    host_urls: dict[str, str]  # as this host reaches them
    container_urls: dict[str, str]  # as the containers reach them
    chain_process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="bg-fi-", dir="/var/tmp"))
    os.chmod(root, 0o755)  # the postgres user traverses it to its cluster
    for tag in TAGS:
        images.build_standin(tag, version=tag.removeprefix("fi-"))
    gateway = images.docker_gateway_ip("bridge")
    pg = PostgresServer(root / "pg", PG_PORT, "fi-" + os.urandom(9).hex(), ("127.0.0.1", gateway))
    chain_process: subprocess.Popen[bytes] | None = None
    try:
        pg.start()
        pg.wait_ready()
        host_urls = {
            name: pg.create_database(db)
            for name, db in (("source", "chain"), ("blue", "fi_blue"), ("green", "fi_green"))
        }
        container_urls = {k: v.replace("127.0.0.1", gateway) for k, v in host_urls.items()}
        chain.create_schema(host_urls["source"])
        chain.seed_history(host_urls["source"], HISTORY)
        chain_process = subprocess.Popen(
            [
                *(sys.executable, "-m", "console.sandbox.chain"),
                *("--db-url-env", "CHAIN_DB_URL", "--history", "0", "--interval", "1.0"),
            ],
            env={**os.environ, "CHAIN_DB_URL": host_urls["source"]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield World(root, pg, host_urls, container_urls, chain_process)
    finally:
        if chain_process is not None:
            chain_process.terminate()
            chain_process.wait(10)
        pg.destroy()
        subprocess.run(
            ["docker", "rmi", *(f"{images.STANDIN_REPOSITORY}:{t}" for t in TAGS)],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


class Install:
    """One fresh installation: hand-written bluegreen.toml and nginx.conf, empty state dir."""

    def __init__(self, world: World, policy: str) -> None:
        self.world = world
        self.dir = Path(tempfile.mkdtemp(prefix=f"bg-fi-{policy}-"))  # short: a socket lives here
        self.state = self.dir / "state"
        self.include_dir = self.dir / "nginx" / "bluegreen"
        self.nginx_dir = self.dir / "nginx"
        (self.nginx_dir / "logs").mkdir(parents=True)
        self.nginx_conf = self.nginx_dir / "nginx.conf"
        self.config = self.dir / "bluegreen.toml"
        self.nginx: subprocess.Popen[bytes] | None = None
        self.write_config()

    # ── what the operator writes ──
    def nginx_argv(self) -> list[str]:
        return ["nginx", "-p", str(self.nginx_dir), "-c", str(self.nginx_conf)]

    def write_config(self) -> None:
        argv = ", ".join(f'"{a}"' for a in self.nginx_argv())
        urls = self.world.container_urls
        host = self.world.host_urls
        self.config.write_text(
            f"""service = "firstinstall"
state_dir = "{self.state}"

[image]
repository = "{images.STANDIN_REPOSITORY}"
command = ["-s", "{{source_db_url}}", "-d", "{{dest_db_url}}",
           "--genesis-json", "/usr/local/share/explorer/genesis.json"]
env = {{ PORT = "{{port}}", INDEX_SPEED = "{SPEED}" }}
container_port = 8080
reset_database = true
stop_timeout_seconds = 5
start_timeout_seconds = 60

[source]
db_url = "{urls["source"]}"
host_db_url = "{host["source"]}"

[head]
kind = "sql"
query = "SELECT MAX(height) - 1 FROM blocks"

[candidate]
kind = "sql"
query = "{WATERMARK}"

[slots.blue]
container = "{PREFIX}-blue"
host_port = {BLUE_PORT}
db_url = "{urls["blue"]}"
host_db_url = "{host["blue"]}"

[slots.green]
container = "{PREFIX}-green"
host_port = {GREEN_PORT}
db_url = "{urls["green"]}"
host_db_url = "{host["green"]}"

[readiness]
max_lag = {MAX_LAG}
hold_seconds = {HOLD}
log_pattern = "catchup completed"
health_path = "/health"
smoke_method = "POST"
smoke_path = "/graphql"
smoke_body = '{{"query": "{{ __typename }}"}}'
stall_seconds = 30

[proxy]
kind = "nginx"
mode = "live"
include_dir = "{self.include_dir}"
proxy_url = "http://127.0.0.1:{PROXY_PORT}"
test_command = [{argv}, "-t", "-q"]
reload_command = [{argv}, "-s", "reload"]

[switch]
policy = "confirm"
keep_previous_seconds = 0
""",
            encoding="utf-8",
        )

    def write_nginx_conf(self, snippet: str) -> None:
        """The operator's own nginx.conf, with the lines the snippet tells them to add."""
        self.nginx_conf.write_text(
            operator_nginx_conf(snippet, self.nginx_dir, PROXY_PORT, workers=2, connections=256),
            encoding="utf-8",
        )

    # ── what the operator runs ──
    def cli(self, *args: str, timeout: float = 180) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "console", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode, done.stdout + done.stderr

    def cli_json(self, *args: str) -> dict:  # type: ignore[type-arg]
        code, out = self.cli(*args, "--json")
        assert code == 0, out
        return json.loads(out)  # type: ignore[no-any-return]

    def nginx_t(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.nginx_argv(), "-t"], capture_output=True, text=True)

    def start_nginx(self) -> None:
        log = (self.nginx_dir / "logs" / "stderr.log").open("ab")
        with log:
            self.nginx = subprocess.Popen(self.nginx_argv(), stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.get()
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("nginx did not answer")

    def get(self) -> httpx.Response:
        with httpx.Client(trust_env=False, timeout=3) as client:
            return client.post(
                f"http://127.0.0.1:{PROXY_PORT}/graphql", json={"query": "{ __typename }"}
            )

    def served_by(self) -> str | None:
        response = self.get()
        if response.status_code == 503:
            assert NO_LIVE_TEXT in response.text
            return None
        color: str | None = response.headers.get("X-Bluegreen-Color")
        return color

    def tear_down(self) -> None:
        self.stop_agent()
        subprocess.run(
            ["docker", "rm", "-f", f"{PREFIX}-blue", f"{PREFIX}-green"],
            capture_output=True,
            check=False,
        )
        if self.nginx is not None:
            self.nginx.send_signal(signal.SIGQUIT)
            self.nginx.wait(15)
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop_agent(self) -> None:
        agent = self.state / "agent.json"
        if agent.exists():
            pid = json.loads(agent.read_text())["pid"]
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not agent.exists():
                    break
                time.sleep(0.1)


@pytest.fixture
def install(world: World, request: pytest.FixtureRequest) -> Iterator[Install]:
    made = Install(world, request.node.name.split("[")[-1].rstrip("]")[:12])
    try:
        yield made
    finally:
        made.tear_down()


def fresh_install(install: Install) -> None:
    """Snippet → hand-written nginx.conf → `proxy install` → `nginx -t` → nginx → 503."""
    code, snippet = install.cli("proxy", "snippet")
    assert code == 0, snippet
    install.write_nginx_conf(snippet)
    assert install.nginx_t().returncode != 0  # the includes name files nobody wrote yet
    code, out = install.cli("proxy", "install")
    assert code == 0, out
    check = install.nginx_t()
    assert check.returncode == 0, check.stderr
    install.start_nginx()
    assert install.served_by() is None  # 503 "no colour is live yet": nothing proxied


def lag_now(world: World, color: str) -> int | None:
    """Independent of bluegreen: head first, then the colour's watermark (a lag lower bound)."""
    with (
        psycopg.connect(world.host_urls["source"]) as source,
        psycopg.connect(world.host_urls[color]) as dest,
    ):
        head = source.execute("SELECT MAX(height) - 1 FROM blocks").fetchone()
        try:
            height = dest.execute(WATERMARK).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    if not head or not height or head[0] is None or height[0] is None:
        return None
    return int(head[0]) - int(height[0])


def deploy_and_watch(install: Install, *args: str) -> tuple[int, str, float, float | None]:
    """Run `deploy … --wait` and, while it runs, watch the proxy and blue's real lag.

    Returns (exit code, output, seconds until --wait returned, the earliest moment blue can have
    caught up: the start of the last reading before its first low one that proved the lag high).
    Asserts on the way that the proxy served nothing before that moment + hold_seconds."""
    argv = [sys.executable, "-m", "console", "deploy", *args, "--wait", "--timeout", "120"]
    started = time.monotonic()
    process = subprocess.Popen(
        [*argv, "--config", str(install.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    last_high = 0.0
    caught_up = False
    while process.poll() is None:
        before = time.monotonic() - started
        lag = lag_now(install.world, "blue")
        served = install.served_by()
        after = time.monotonic() - started
        if not caught_up:
            if lag is None or lag > MAX_LAG:
                last_high = before
            else:
                caught_up = True
        if served is not None:
            assert caught_up and after >= last_high + HOLD, (
                f"{served} served {after:.2f} s after deploy; caught up after {last_high:.2f} s"
            )
        time.sleep(0.1)
    waited = time.monotonic() - started
    output = process.stdout.read() if process.stdout else ""
    return process.returncode, output, waited, last_high if caught_up else None


def assert_no_phantom_previous(install: Install) -> None:
    status = install.cli_json("status")
    assert status["previous"] is None, status
    history = install.cli_json("history")
    assert [d["color"] for d in history["deployments"]] == ["blue"]
    kinds = {e["kind"] for e in history["events"]}
    assert not kinds & {"drift", "adoption"}, history["events"]
    texts = " ".join(e["text"] for e in history["events"]).replace("bluegreen", "")
    assert "green" not in texts, texts
    code, out = install.cli("rollback", "--yes")
    assert code == 1, out
    assert "Rollback refused: No colour was live before blue" in out
    assert "Traceback" not in out


def test_first_deploy_auto_goes_live_only_through_its_gate_then_switch_and_rollback(
    install: Install,
) -> None:
    fresh_install(install)
    code, out, waited, caught_up = deploy_and_watch(install, "fi-v1", "--switch", "auto")
    assert code == 0, out
    assert caught_up is not None, "the test never saw blue catch up"
    # --wait returned only once the gate could have held: caught up, then held HOLD seconds.
    assert waited >= caught_up + HOLD, (waited, caught_up, out)
    assert install.served_by() == "blue"
    status = install.cli_json("status")
    assert status["live"] == "blue" and status["slots"]["blue"]["state"] == "live"
    events = install.cli_json("history")["events"]
    assert any(e["kind"] == "switch" and e["actor"] == "agent" for e in events), events
    assert_no_phantom_previous(install)

    # The second release: confirm waits for `switch`; then rollback goes back to v1.
    code, out = install.cli("deploy", "fi-v2", "--switch", "confirm", "--wait", "--timeout", "120")
    assert code == 0, out
    assert "kept for rollback" not in out  # green never ran: nothing of it was kept
    assert install.cli_json("status")["slots"]["green"]["state"] == "ready"
    assert install.served_by() == "blue"
    code, out = install.cli("switch", "--yes")
    assert code == 0, out
    assert install.served_by() == "green"
    assert install.cli_json("status")["previous"] == "blue"
    code, out = install.cli("rollback", "--yes")
    assert code == 0, out
    assert install.served_by() == "blue"
    status = install.cli_json("status")
    assert (status["live"], status["previous"]) == ("blue", "green")

    # Logs into a pipe whose reader goes away: no traceback.
    done = subprocess.run(
        [
            "bash",
            "-c",
            " ".join(
                [
                    sys.executable,
                    "-m",
                    "console",
                    "logs",
                    "blue",
                    "--config",
                    str(install.config),
                    "-n",
                    "5000",
                    "|",
                    "head",
                    "-1",
                ]
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_first_deploy_confirm_waits_for_switch(install: Install) -> None:
    fresh_install(install)
    code, out, waited, caught_up = deploy_and_watch(install, "fi-v1", "--switch", "confirm")
    assert code == 0, out
    assert caught_up is not None and waited >= caught_up + HOLD, (waited, caught_up, out)
    status = install.cli_json("status")
    assert status["live"] is None and status["slots"]["blue"]["state"] == "ready", status
    time.sleep(3)  # a few agent ticks: confirm never switches by itself
    assert install.served_by() is None and install.cli_json("status")["live"] is None
    code, out = install.cli("switch", "--yes")
    assert code == 0, out
    assert install.served_by() == "blue"
    assert_no_phantom_previous(install)

    # The store is lost (a restored or new state directory) while nginx serves blue: the next
    # reconcile adopts blue, says so as an `adoption` event, and invents no previous colour.
    install.stop_agent()
    for path in install.state.glob(f"{DB_FILE}*"):
        # The last connection to close deletes -wal and -shm itself: one may go under the glob.
        path.unlink(missing_ok=True)
    code, out = install.cli("reconcile")
    assert code == 0 and "Adopted blue as live" in out, out
    status = install.cli_json("status")
    assert (status["live"], status["previous"]) == ("blue", None)
    (adoption,) = [e for e in install.cli_json("history")["events"] if e["kind"] == "adoption"]
    assert "readiness gate" in adoption["text"] and adoption["level"] == "info"
    assert install.served_by() == "blue"
    code, out = install.cli("rollback", "--yes")
    assert code == 1 and "No colour was live before blue" in out, out


def test_first_deploy_never_stays_ready(install: Install) -> None:
    fresh_install(install)
    code, out, waited, caught_up = deploy_and_watch(install, "fi-v1", "--switch", "never")
    assert code == 0, out
    assert caught_up is not None and waited >= caught_up + HOLD, (waited, caught_up, out)
    time.sleep(3)
    status = install.cli_json("status")
    assert status["live"] is None and status["slots"]["blue"]["state"] == "ready", status
    assert install.served_by() is None
    code, out = install.cli("rollback", "--yes")
    assert code == 1 and "Nothing is live yet" in out, out


def test_migration_from_the_old_scripts_adopts_the_running_colour(install: Install) -> None:
    """The old scripts left v1 running in blue, behind the operator's nginx. `proxy install
    --adopt blue` routes to it; the next reconcile records the adoption, with no previous."""
    world = install.world
    run = subprocess.run(
        [
            *("docker", "run", "-d", "--name", f"{PREFIX}-blue"),
            *("-p", f"127.0.0.1:{BLUE_PORT}:8080", "-e", "PORT=8080", "-e", f"INDEX_SPEED={SPEED}"),
            f"{images.STANDIN_REPOSITORY}:{TAGS[0]}",
            *("-s", world.container_urls["source"], "-d", world.container_urls["blue"]),
            *("--genesis-json", "/usr/local/share/explorer/genesis.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    code, snippet = install.cli("proxy", "snippet")
    assert code == 0, snippet
    install.write_nginx_conf(snippet)
    code, out = install.cli("proxy", "install", "--adopt", "green")
    assert code == 1 and "no container named" in out, out  # nothing runs in green
    code, out = install.cli("proxy", "install", "--adopt", "blue")
    assert code == 0, out
    assert install.nginx_t().returncode == 0
    install.start_nginx()
    assert install.served_by() == "blue"  # users keep the service they had
    code, out = install.cli("reconcile")
    assert code == 0 and "Adopted blue as live" in out, out
    status = install.cli_json("status")
    assert (status["live"], status["previous"]) == ("blue", None)
    kinds = [e["kind"] for e in install.cli_json("history")["events"]]
    assert "adoption" in kinds and "drift" not in kinds, kinds
    code, out = install.cli("proxy", "install", "--adopt", "blue")
    assert code == 1 and "already live" in out, out  # never a way around a switch's gate
