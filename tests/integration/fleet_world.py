"""A configuration directory of two real services for the one-agent tests, joined from two
sandboxes: `webapp` (the web profile: a plain HTTP service) and `explorer` (the explorer profile:
PostgreSQL, re-indexing). Each sandbox keeps its own nginx, containers and database; the
directory's host.toml names a state dir whose service dirs are the sandboxes' own (symlinks), so a
sandbox's single-file config and the directory agree on the store, the operator lock and the
lease, and the single-file CLI acts on the same service the directory's agent watches.

Until the sandbox's own fleet profile lands, this is the fleet: the agent under test is the real
`bluegreen --config DIR agent` process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.integration.sandbox_fixture import Sandbox, stop_agent
from tests.metrics_series import Series, parse_series

HOST_ONLY = ("service", "state_dir", "secrets_file", "operators_group", "watchers_group")


def service_file(config_text: str) -> str:
    """A sandbox's bluegreen.toml as one service file of a directory: the host-wide keys and the
    [metrics] table go to host.toml; the proxy keeps the names the sandbox's nginx was given."""
    out: list[str] = []
    table = ""
    for line in config_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped.strip("[]").strip()
            if table == "metrics":
                continue
            out.append(line)
            if table == "proxy":
                out.append('name = ""  # the sandbox nginx knows it as "bluegreen"')
            continue
        key = stripped.split("=", 1)[0].strip()
        if table == "metrics" or (not table and key in HOST_ONLY):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class FleetWorld:
    dir: Path  # the configuration directory
    state: Path  # the host's state dir (one dir per service inside: the sandboxes' own)
    services: dict[str, Sandbox]
    metrics_port: int
    log: Path
    agent: subprocess.Popen[bytes] | None = None
    notify: socket.socket | None = field(default=None, repr=False)

    def start_agent(self, notify_path: Path | None = None) -> subprocess.Popen[bytes]:
        for sandbox in self.services.values():
            stop_agent(sandbox)  # the one `sandbox up` started watches only its sandbox
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

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def status(self, name: str) -> dict:  # type: ignore[type-arg]
        return self.services[name].status()

    def events(self, name: str, limit: int = 40) -> list[dict]:  # type: ignore[type-arg]
        result = self.services[name].cli("history", "--json", "--limit", str(limit), timeout=60)
        assert result.returncode == 0, result.stderr
        return sorted(json.loads(result.stdout)["events"], key=lambda e: e["id"])  # oldest first

    def scrape(self) -> Series:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        return parse_series(httpx.get(url, timeout=5).text)

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate():
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.why()}")

    def why(self) -> str:
        return "── the fleet agent's log (tail) ──\n" + "\n".join(
            self.log_text().splitlines()[-60:]
        )


def build(directory: Path, services: dict[str, Sandbox], metrics_port: int) -> FleetWorld:
    """host.toml, one NAME.toml per sandbox (NAME = its configured service), the state dirs."""
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "state"
    state.mkdir(exist_ok=True)
    secrets = [s.dir / "secrets.env" for s in services.values() if (s.dir / "secrets.env").exists()]
    assert len(secrets) <= 1, "one secrets file per host: join them first"
    host = [f'state_dir = "{state}"']
    if secrets:
        host.append(f'secrets_file = "{secrets[0]}"')
    host.append(f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"')
    (directory / "host.toml").write_text("\n".join(host) + "\n")
    for name, sandbox in services.items():
        (directory / f"{name}.toml").write_text(service_file(sandbox.config.read_text()))
        link = state / name
        if not link.exists():
            link.symlink_to(sandbox.dir / "state")
    return FleetWorld(directory, state, services, metrics_port, directory / "agent.log")
