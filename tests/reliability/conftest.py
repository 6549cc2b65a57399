"""One real sandbox (Docker, PostgreSQL, nginx) shared by the reliability tests, on its own ports.

Its config is adjusted once for these tests: notifications go to a local sink whose URL carries a
planted secret token (through `${WEBHOOK}` in the secrets file, as an operator would do it), a
stall is detected after a few seconds, and the post-switch window is short. The agent is then
restarted so it reads the adjusted config.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import typing
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.chaos import DEPLOY_TAG
from tests.integration import sandbox_fixture
from tests.integration.sandbox_fixture import Sandbox

PORT_BASE = 29180
WEBHOOK_PORT = 29178  # outside PORT_BASE..PORT_BASE+20, which the sandbox uses
WEBHOOK_TOKEN = "SECRETTOKEN-" + secrets.token_hex(8)

# Everything any reliability test printed through the CLI, scanned for secrets at the end.
CLI_OUTPUTS: list[str] = []


class WebhookSink(BaseHTTPRequestHandler):
    bodies: typing.ClassVar[list[str]] = []
    paths: typing.ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        WebhookSink.bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
        WebhookSink.paths.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class World:
    """The sandbox plus what the reliability tests need around it."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.dir = sandbox.dir
        self.config = sandbox.config
        self.state = sandbox.dir / "state"
        self.password = sandbox.password
        self.webhook_url = f"http://127.0.0.1:{WEBHOOK_PORT}/hook/{WEBHOOK_TOKEN}"
        self.prefix = f"explorer-{PORT_BASE}"

    def cli(self, *args: str, timeout: float = 180, config: Path | None = None) -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, "-m", "console", "--config", str(config or self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        out = result.stdout + result.stderr
        CLI_OUTPUTS.append(out)
        return result.returncode, out

    def status(self) -> dict[str, typing.Any]:
        code, out = self.cli("status", "--json")
        assert code == 0, out
        return typing.cast(dict[str, typing.Any], json.loads(out))

    def served(self, probes: int = 20) -> set[str | None]:
        """The colours that answered `probes` POSTs through the proxy (None = no header/error)."""
        import httpx

        seen: set[str | None] = set()
        with httpx.Client(timeout=5) as client:
            for _ in range(probes):
                try:
                    response = client.post(
                        f"{self.sandbox.proxy_url}/graphql", json={"query": "{ __typename }"}
                    )
                    ok = response.status_code == 200
                    seen.add(response.headers.get("X-Bluegreen-Color") if ok else None)
                except httpx.HTTPError:
                    seen.add(None)
        return seen

    def agent_pid(self) -> int | None:
        try:
            pid = json.loads((self.state / "agent.json").read_text())["pid"]
        except (OSError, ValueError, KeyError):
            return None
        return pid if isinstance(pid, int) else None

    def stop_agent(self) -> None:
        pid = self.agent_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)

    def start_agent(self, config: Path | None = None) -> int | None:
        from console.core.config.load import load_config
        from console.core.ops.agent_process import ensure_agent
        from console.wiring import open_installation

        inst = open_installation(load_config(str(config or self.config)))
        try:
            _, pid = ensure_agent(inst)
        finally:
            inst.close()
        return pid

    def config_copy(self, name: str, **replacements: str) -> Path:
        """A copy of the config with `old=new` text replacements (old given as a regex)."""
        text = self.config.read_text()
        for pattern, new in replacements.items():
            text, count = re.subn(pattern.replace("__", "."), new, text, flags=re.MULTILINE)
            assert count, f"{pattern} not found in the config"
        path = self.dir / f"{name}.toml"
        path.write_text(text)
        return path

    def wait_for(self, what: str, predicate: typing.Callable[[], bool], timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate():
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def stop_postgres(self) -> None:
        from console.sandbox.postgres_proc import PostgresServer

        PostgresServer(self.dir / "pg", PORT_BASE + 20, self.password).stop()

    def start_postgres(self) -> None:
        """Start the sandbox's PostgreSQL as `sandbox up` does (also on the Docker bridge)."""
        from console.sandbox.images import docker_gateway_ip
        from console.sandbox.postgres_proc import PostgresServer

        listen = ("127.0.0.1", docker_gateway_ip("bridge"))
        PostgresServer(self.dir / "pg", PORT_BASE + 20, self.password, listen=listen).start()

    def ensure_baseline(self) -> None:
        """Blue live and healthy, green running v2 and ready (what most tests start from)."""
        if self.agent_pid() is None or not _alive(self.agent_pid() or 0):
            self.start_agent()
        status = self.status()
        if status["live"] != "blue":
            code, out = self.cli("rollback", "--yes")
            if code != 0:
                code, out = self.cli("switch", "--yes", "--force")
            assert code == 0, out
            status = self.status()
        green = status["slots"]["green"]
        if green["state"] != "ready" or green["version"] != DEPLOY_TAG:
            code, out = self.cli(
                "deploy", DEPLOY_TAG, "--switch", "never", "--wait", "--timeout", "120"
            )
            assert code == 0, out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def webhook() -> Iterator[type[WebhookSink]]:
    server = ThreadingHTTPServer(("127.0.0.1", WEBHOOK_PORT), WebhookSink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield WebhookSink
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def world(webhook: type[WebhookSink]) -> Iterator[World]:
    previous, sandbox_fixture.PORT_BASE = sandbox_fixture.PORT_BASE, PORT_BASE
    try:
        try:
            sandbox = sandbox_fixture.bring_up()
        except AssertionError:
            # Other engineers' tests build and remove the shared stand-in tags in parallel; one
            # retry rebuilds them.
            sandbox = sandbox_fixture.bring_up()
    finally:
        sandbox_fixture.PORT_BASE = previous  # sandboxes made later keep their own ports
    try:
        from console.sandbox.images import build_standin

        build_standin(DEPLOY_TAG)  # a private tag: other sandboxes' teardown removes :v2
        w = World(sandbox)
        with (sandbox.dir / "secrets.env").open("a") as secrets_file:
            secrets_file.write(f"WEBHOOK={w.webhook_url}\n")
        text = sandbox.config.read_text()
        text = text.replace('webhook_url = ""', 'webhook_url = "${WEBHOOK}"')
        text = re.sub(r"^stall_seconds = .*$", "stall_seconds = 4", text, flags=re.MULTILINE)
        text = re.sub(r"^watch_seconds = .*$", "watch_seconds = 30", text, flags=re.MULTILINE)
        sandbox.config.write_text(text)
        w.stop_agent()
        w.start_agent()
        yield w
    finally:
        sandbox_fixture.tear_down(sandbox.dir)
