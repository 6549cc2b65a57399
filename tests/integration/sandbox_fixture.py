"""A real sandbox (Docker, nginx, the profile's stand-in images and parts — PostgreSQL for the
explorer, a JSON-RPC chain for evm) for end-to-end tests, in any profile.

`bring_up(profile="fleet", port_base=...)` stands up the explorer, web and evm services as one
configuration directory behind one nginx: `Sandbox.config` is then the directory (what
`--config` takes), `Sandbox.services` each service's name → its proxy URL and profile, and
`cli(..., service=NAME)` adds `--service NAME`.

It runs on its own ports and directory, so it never collides with a demo sandbox on the machine.
The directory lives under /var/tmp because the postgres user must traverse it (pytest's tmp dirs
are 0700 under /tmp/pytest-of-root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests import ports

PORT_BASE = ports.WORKFLOW.start  # the default; most modules name their own


@dataclass(frozen=True)
class Service:
    """One service of a sandbox: its name, where its clients reach it, which profile it is."""

    name: str
    proxy_url: str
    profile: str


@dataclass
class Sandbox:
    dir: Path
    config: Path  # bluegreen.toml; a fleet's directory
    proxy_url: str  # the first service's
    password: str  # the explorer's PostgreSQL password; "" where the profile has no database
    profile: str = "explorer"
    services: dict[str, Service] = field(default_factory=dict)  # by name, from sandbox.json

    def cli(
        self,
        *args: str,
        timeout: float = 180,
        env: dict[str, str] | None = None,
        config: Path | None = None,
        service: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `bluegreen --config … [--service NAME] ARGS` as an operator would (with this
        sandbox's config, or `config`); output captured."""
        named = ["--service", service] if service else []
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "console",
                "--config",
                str(config or self.config),
                *named,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )

    def status(self) -> dict:  # type: ignore[type-arg]
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def served_by(self, service: str | None = None) -> str | None:
        """The colour the proxy answers from, asked the way this profile's clients ask (a
        fleet's `service` through its own proxy URL)."""
        from console.sandbox.profiles import get_profile

        own = self.services[service] if service else None
        probe = get_profile(own.profile if own else self.profile).probe
        url = own.proxy_url if own else self.proxy_url
        response = httpx.request(
            probe.method, f"{url}{probe.path}", json=probe.json_body, timeout=5
        )
        return response.headers.get("X-Bluegreen-Color")

    def why(self, drawn: str = "") -> str:
        """What tells why an end-to-end step did not happen, for its failure message: the
        installation's last events, the agent's log tail, and `drawn` — what the console last
        showed (the gate in its confirmation, its notifications)."""
        history = self.cli("history", "--json", "--limit", "25", timeout=60)
        try:
            records = sorted(json.loads(history.stdout)["events"], key=lambda e: e["id"])
            events = [
                f"{time.strftime('%H:%M:%S', time.localtime(e['at']))} {e['kind']} "
                f"{e['color'] or '-'} ({e['actor']}): {e['text']}"
                for e in records
            ]
        except (ValueError, KeyError, TypeError):
            events = [history.stdout[-3000:], history.stderr.strip()]
        state = self.dir / "state"
        agent_log = state / "agent.log"
        if not agent_log.exists() and self.services:  # each service's own agent
            agent_log = state / next(iter(self.services)) / "agent.log"
        try:
            agent = agent_log.read_text(errors="replace").splitlines()[-40:]
        except OSError as exc:
            agent = [f"(no agent log: {exc})"]
        return "\n".join(
            [
                "── the console last drew ──",
                drawn or "(nothing recorded)",
                "── the last events (bluegreen history --json) ──",
                *events,
                f"── {agent_log} (tail) ──",
                *agent,
            ]
        )

    def sandbox_status(self) -> dict:  # type: ignore[type-arg]
        """`bluegreen sandbox status --json` for this sandbox's directory."""
        result = self.cli("sandbox", "status", "--dir", str(self.dir), "--json")
        return json.loads(result.stdout)  # type: ignore[no-any-return]


def bring_up(
    history: int = 3000,
    speed: int = 1500,
    profile: str = "explorer",
    port_base: int | None = None,
) -> Sandbox:
    """`sandbox up --profile PROFILE` in a fresh directory; port_base defaults to PORT_BASE."""
    port_base = PORT_BASE if port_base is None else port_base
    directory = Path(tempfile.mkdtemp(prefix=f"bluegreen-e2e-{profile}-", dir="/var/tmp"))
    os.chmod(directory, 0o755)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "sandbox",
            "up",
            "--profile",
            profile,
            "--dir",
            str(directory),
            "--history",
            str(history),
            "--speed",
            str(speed),
            "--port-base",
            str(port_base),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        tear_down(directory, strict=False)  # the failure to report is up's
        raise AssertionError(f"sandbox up failed:\n{result.stdout}\n{result.stderr}")
    password = ""
    secrets = directory / "secrets.env"
    for line in secrets.read_text().splitlines() if secrets.exists() else []:
        if line.startswith("SANDBOX_PG_PASSWORD="):
            password = line.split("=", 1)[1]
    assert len(password) > 10 or profile not in ("explorer", "fleet")
    recorded = json.loads((directory / "sandbox.json").read_text())
    services = {
        name: Service(name, str(own["proxy_url"]), str(own["profile"]))
        for name, own in recorded.get("services", {}).items()
    }
    return Sandbox(
        directory,
        Path(recorded["config"]),
        recorded["proxy_url"],
        password,
        profile,
        services,
    )


def tear_down(directory: Path, strict: bool = True) -> None:
    """`sandbox down --dir`; with `strict`, fail (the test's teardown errors) when it says
    something of the sandbox is left — an agent or a container outliving its test."""
    result = subprocess.run(
        [sys.executable, "-m", "console", "sandbox", "down", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    shutil.rmtree(directory, ignore_errors=True)
    if strict and result.returncode != 0:
        raise AssertionError(f"sandbox down left something:\n{result.stdout}{result.stderr}")


def stop_agent(world: Sandbox) -> None:
    """The agent re-reads the config when `deploy` starts it again."""
    info_path = world.dir / "state" / "agent.json"
    if info_path.exists():
        pid = json.loads(info_path.read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not info_path.exists():
                break
            time.sleep(0.1)
