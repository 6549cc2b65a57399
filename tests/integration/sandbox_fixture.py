"""A real sandbox (Docker, PostgreSQL, nginx, the stand-in images) for end-to-end tests.

It runs on its own ports and directory, so it never collides with a demo sandbox on the machine.
The directory lives under /var/tmp because the postgres user must traverse it (pytest's tmp dirs
are 0700 under /tmp/pytest-of-root).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

PORT_BASE = 28080


@dataclass
class Sandbox:
    dir: Path
    config: Path
    proxy_url: str
    password: str

    def cli(
        self, *args: str, timeout: float = 180, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `bluegreen --config … ARGS` as an operator would; output captured."""
        return subprocess.run(
            [sys.executable, "-m", "console", "--config", str(self.config), *args],
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

    def served_by(self) -> str | None:
        response = httpx.post(
            f"{self.proxy_url}/graphql", json={"query": "{ __typename }"}, timeout=5
        )
        return response.headers.get("X-Bluegreen-Color")


def bring_up(history: int = 3000, speed: int = 1500) -> Sandbox:
    directory = Path(tempfile.mkdtemp(prefix="bluegreen-e2e-", dir="/var/tmp"))
    os.chmod(directory, 0o755)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "sandbox",
            "up",
            "--dir",
            str(directory),
            "--history",
            str(history),
            "--speed",
            str(speed),
            "--port-base",
            str(PORT_BASE),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        tear_down(directory)
        raise AssertionError(f"sandbox up failed:\n{result.stdout}\n{result.stderr}")
    password = ""
    for line in (directory / "secrets.env").read_text().splitlines():
        if line.startswith("SANDBOX_PG_PASSWORD="):
            password = line.split("=", 1)[1]
    assert len(password) > 10
    return Sandbox(
        directory, directory / "bluegreen.toml", f"http://127.0.0.1:{PORT_BASE}", password
    )


def tear_down(directory: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "console", "sandbox", "down", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    shutil.rmtree(directory, ignore_errors=True)
