"""The wheel as a user installs it: built from the checkout, installed into a fresh venv outside
it, and `bluegreen sandbox up` → `status --json` → `sandbox down` run from there.

The sandbox builds its stand-in image from the wheel's package data, so a wheel that left the
stand-ins' sources out (as it once did) fails here, where an editable checkout would not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import ports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PORT_BASE = ports.WHEEL_INSTALL.start


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("BLUEGREEN_CONFIG", None)
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.timeout(600)
def test_wheel_installed_outside_the_checkout_runs_the_sandbox() -> None:
    work = Path(tempfile.mkdtemp(prefix="bluegreen-wheel-", dir="/var/tmp"))
    os.chmod(work, 0o755)
    sandbox = work / "sandbox"
    venv = work / "venv"
    bluegreen = str(venv / "bin" / "bluegreen")
    try:
        built = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                str(ROOT),
                "--no-deps",
                "-q",
                "-w",
                str(work / "dist"),
            ],
            cwd=work,
        )
        assert built.returncode == 0, built.stderr
        wheel = next((work / "dist").glob("bluegreen-*.whl"))
        assert _run([sys.executable, "-m", "venv", str(venv)], cwd=work).returncode == 0
        installed = _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], cwd=work)
        assert installed.returncode == 0, installed.stderr

        # The installed package, not the checkout, is what runs.
        python = str(venv / "bin" / "python")
        where = _run([python, "-c", "import console; print(console.__file__)"], cwd=work)
        assert str(venv) in where.stdout and str(ROOT) not in where.stdout, where.stdout

        version = _run([bluegreen, "--version"], cwd=work)
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == "bluegreen 0.1.0"

        up = _run(
            [
                bluegreen,
                "sandbox",
                "up",
                "--profile",
                "web",
                "--dir",
                str(sandbox),
                "--port-base",
                str(PORT_BASE),
            ],
            cwd=work,
            timeout=400,
        )
        assert up.returncode == 0, f"{up.stdout}\n{up.stderr}"
        status = _run(
            [bluegreen, "--config", str(sandbox / "bluegreen.toml"), "status", "--json"], cwd=work
        )
        assert status.returncode == 0, status.stderr
        state = json.loads(status.stdout)
        assert state["live"] == "blue"
        assert state["slots"]["blue"]["state"] == "live"
        sb = _run([bluegreen, "sandbox", "status", "--dir", str(sandbox), "--json"], cwd=work)
        assert json.loads(sb.stdout)["profile"] == "web"
    finally:
        if (venv / "bin" / "bluegreen").exists():
            _run([bluegreen, "sandbox", "down", "--dir", str(sandbox)], cwd=work, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
