"""The fleet sandbox (`sandbox up --profile fleet`: explorer, web and evm behind one nginx) with
what the one-agent tests need around it: the directory's agent run by the test (its own log and
$NOTIFY_SOCKET), its exporter, each service's status and events.

`sandbox up` already leaves the directory's one agent running (its v1 deploys started it); the
tests stop that one and start their own, so they can read its log and its sd_notify datagrams.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from console.sandbox.profiles.base import Ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent
from tests.metrics_series import Series, parse_series


@dataclass
class FleetWorld:
    sandbox: Sandbox
    metrics_port: int
    agent: subprocess.Popen[bytes] | None = None

    @property
    def dir(self) -> Path:  # the configuration directory
        return self.sandbox.config

    @property
    def state(self) -> Path:  # the host's state dir; one dir per service inside
        return self.sandbox.dir / "state"

    @property
    def log(self) -> Path:
        return self.sandbox.dir / "fleet-agent.log"

    @property
    def names(self) -> list[str]:
        return list(self.sandbox.services)

    def start_agent(self, notify_path: Path | None = None) -> subprocess.Popen[bytes]:
        with contextlib.suppress(ProcessLookupError):  # one killed (SIGKILL) leaves its pid
            stop_agent(self.sandbox)  # the one the sandbox's deploys started
        env = dict(os.environ)
        if notify_path is not None:
            env["NOTIFY_SOCKET"] = str(notify_path)
        with self.log.open("ab") as log:
            self.agent = subprocess.Popen(
                [sys.executable, "-m", "console", "--config", str(self.dir), "agent"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        return self.agent

    def stop_agent(self, timeout: float = 15) -> tuple[int | None, float]:
        """SIGTERM; (exit code, seconds it took). On a timeout the stacks go to the log first."""
        if self.agent is None or self.agent.poll() is not None:
            return (self.agent.returncode if self.agent else None), 0.0
        sent = time.monotonic()
        self.agent.send_signal(signal.SIGTERM)
        try:
            code = self.agent.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.agent.send_signal(signal.SIGUSR1)
            time.sleep(1)
            self.agent.kill()
            self.agent.wait()
            return None, time.monotonic() - sent
        return code, time.monotonic() - sent

    def cli(self, name: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.sandbox.cli(*args, timeout=timeout, service=name)

    def status(self, name: str) -> dict:  # type: ignore[type-arg]
        result = self.cli(name, "status", "--json", timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def events(self, name: str, limit: int = 40) -> list[dict]:  # type: ignore[type-arg]
        """The service's last events, oldest first."""
        result = self.cli(name, "history", "--json", "--limit", str(limit), timeout=60)
        assert result.returncode == 0, result.stderr
        return sorted(json.loads(result.stdout)["events"], key=lambda e: e["id"])

    def scrape(self) -> Series:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        return parse_series(httpx.get(url, timeout=5).text)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate():
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.why()}")

    def why(self) -> str:
        tail = self.log_text().splitlines()[-60:]
        return "── the fleet agent's log (tail) ──\n" + "\n".join(tail)


def datagrams(server: socket.socket, until: str, timeout: float) -> list[str]:
    """What the agent said over $NOTIFY_SOCKET (sd_notify), up to `until` or `timeout`."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while until not in got and time.monotonic() < deadline:
        server.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            got.append(server.recv(256).decode())
        except TimeoutError:
            break
    return got


def bring_up_fleet(port_base: int, history: int = 2000) -> FleetWorld:
    """`sandbox up --profile fleet`; its host.toml turns the agent's exporter on (base + 22)."""
    sandbox = bring_up(history=history, profile="fleet", port_base=port_base)
    return FleetWorld(sandbox, Ports.from_base(port_base).metrics)
