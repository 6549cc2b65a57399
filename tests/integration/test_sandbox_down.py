"""Issue 19 point 5, "down means down": `bluegreen sandbox down` removes everything a sandbox
made — its agent, its containers, its host processes, its directory — whatever state its config
is in, and says what it could not remove (exit 1 then).

The `web` profile (no database) is the quickest sandbox to bring up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
import docker.errors
import pytest

from console.sandbox.procs import process_alive
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PORT_BASE = ports.SANDBOX_DOWN.start


def down(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "sandbox", "down", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def processes_naming(directory: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not process_alive(int(entry.name)):
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(directory) in args:
            found.append(f"{entry.name}: {args.replace(chr(0), ' ')}")
    return found


def test_down_removes_everything_though_the_config_no_longer_parses() -> None:
    world: Sandbox = bring_up(profile="web", port_base=PORT_BASE)
    try:
        info = json.loads((world.dir / "sandbox.json").read_text())
        agent = json.loads((world.dir / "state" / "agent.json").read_text())["pid"]
        assert process_alive(agent), "sandbox up leaves v1 watched by an agent"
        client = docker.from_env()
        assert [client.containers.get(n).status for n in info["containers"][:1]] == ["running"]
        host_pids = [pid for pid in info["pids"].values() if process_alive(pid)]
        assert host_pids, info["pids"]  # nginx at least

        # An operator adds a key this version does not know: every command refuses the config.
        with world.config.open("a") as config:
            config.write('\nsomething_new = "from a later version"\n')
        refused = world.cli("status")
        assert refused.returncode != 0 and "something_new" in refused.stderr + refused.stdout

        result = down(world.dir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "removed" in result.stdout + result.stderr
        assert not process_alive(agent), "the agent outlived sandbox down"
        assert not [pid for pid in host_pids if process_alive(pid)]
        for name in info["containers"]:
            with pytest.raises(docker.errors.NotFound):
                client.containers.get(name)
        assert not world.dir.exists()
        assert processes_naming(world.dir) == []
    finally:
        tear_down(world.dir, strict=False)


def test_down_says_what_it_could_not_remove_and_fails(tmp_path: Path) -> None:
    # A sandbox whose containers ran on an engine that is gone (a Podman service stopped first).
    directory = Path(tempfile.mkdtemp(prefix="bluegreen-down-", dir="/var/tmp"))
    gone = f"unix://{tmp_path / 'gone.sock'}"
    (directory / "sandbox.json").write_text(
        json.dumps(
            {
                "dir": str(directory),
                "config": str(directory / "bluegreen.toml"),
                "proxy_url": "http://127.0.0.1:1",
                "admin_url": f"unix:{directory / 'admin.sock'}",
                "ports": {},
                "images": [],
                "containers": ["webapp-down-blue", "webapp-down-green"],
                "profile": "web",
                "service": "webapp",
                "docker_host": gone,
            }
        )
    )
    try:
        result = down(directory)
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert "only partly removed" in out and "could not remove" in out
        assert "webapp-down-blue" in out and gone in out  # what is left, and why
    finally:
        shutil.rmtree(directory, ignore_errors=True)
