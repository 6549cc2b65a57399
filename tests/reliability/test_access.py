"""Access: a read-only console refuses every mutation through every path; the nginx admin
endpoint is a unix socket in the state dir (no TCP port) and the slots listen on loopback only;
any other local user (`nobody`) is refused at the admin socket and traffic does not move; the
state dir is 0700 and its files 0600."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Callable

import pytest

from console.core.actor import current_actor
from console.core.config.load import load_config
from console.core.ops import deploy as deploy_op
from console.core.ops import switching
from console.core.ops.operation import ReadOnlyError
from console.drivers.proxy.nginx.driver import HTTP_FILE
from console.wiring import open_console
from tests.reliability.conftest import PORT_BASE, World

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_read_only_refuses_every_mutation_on_every_path(world: World) -> None:
    before = world.status()
    console = open_console(load_config(str(world.config)), read_only=True)
    inst = console.installation
    try:
        event_count = len(inst.store.events(limit=10_000))
        attempts: dict[str, Callable[[], object]] = {
            "Console.deploy": lambda: next(iter(console.deploy("v2"))),
            "Console.switch": lambda: next(iter(console.switch(force=True))),
            "Console.rollback": lambda: next(iter(console.rollback())),
            "switching.switch": lambda: next(
                switching.switch(inst, current_actor(), force=True, read_only=True)
            ),
            "switching.rollback": lambda: next(
                switching.rollback(inst, current_actor(), read_only=True)
            ),
            "deploy.deploy": lambda: next(
                deploy_op.deploy(inst, "v2", current_actor(), read_only=True)
            ),
        }
        for path, attempt in attempts.items():
            with pytest.raises(ReadOnlyError, match="read-only"):
                attempt()
            assert inst.lock.holder() is None, path  # refused before taking the lock
        assert len(inst.store.events(limit=10_000)) == event_count
    finally:
        console.close()
    for args in (
        ("--read-only", "switch", "--yes", "--force"),
        ("--read-only", "rollback", "--yes"),
        ("--read-only", "deploy", "v2"),
        ("--read-only", "reconcile"),
    ):
        code, out = world.cli(*args)
        assert code == 1, (args, out)
        assert "read-only" in out and "Traceback" not in out, out
    after = world.status()
    assert after["live"] == before["live"] and world.served() == {before["live"]}


def test_admin_endpoint_is_a_socket_and_slots_listen_on_loopback_only(world: World) -> None:
    config = load_config(str(world.config))
    rendered = (world.dir / "nginx" / "bluegreen" / HTTP_FILE).read_text()
    socket_path = world.state / "nginx-admin.sock"
    assert re.findall(r"^\s*listen\s+(\S+);", rendered, re.MULTILINE) == [f"unix:{socket_path}"]
    assert config.proxy.admin_url == "" and config.admin_socket_path == str(socket_path)
    assert socket_path.is_socket()
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    ports = {PORT_BASE + 19: "old admin port", PORT_BASE + 1: "blue", PORT_BASE + 2: "green"}
    for port, what in ports.items():
        addresses = {
            line.split()[3].rsplit(":", 1)[0]
            for line in listening.splitlines()
            if line.split()[3].endswith(f":{port}")
        }
        if what != "blue" and not addresses:
            continue  # green may be empty right now; the old admin port must be
        assert what != "old admin port" and addresses == {"127.0.0.1"}, (what, addresses)


def test_nobody_cannot_move_traffic_through_the_admin_endpoint(world: World) -> None:
    """The issue's curl, as `nobody`: refused at the socket, and the old TCP port is closed."""
    if os.geteuid() != 0 or not shutil.which("runuser"):
        pytest.skip("needs root and runuser to act as nobody")
    before = world.status()["live"]
    target = "green" if before == "blue" else "blue"
    socket_path = world.state / "nginx-admin.sock"
    url = f"http://admin/bluegreen/live?color={target}"
    attempts = [
        ["curl", "-sS", "--max-time", "3", "--unix-socket", str(socket_path), "-X", "POST", url],
        ["curl", "-sS", "--max-time", "3", "-X", "POST",
         f"http://127.0.0.1:{PORT_BASE + 19}/bluegreen/live?color={target}"],
    ]  # fmt: skip
    for argv in attempts:
        tried = subprocess.run(
            ["runuser", "-u", "nobody", "--", *argv], capture_output=True, text=True, timeout=20
        )
        assert tried.returncode != 0 and target not in tried.stdout, (argv, tried)
    assert world.served() == {before}
    assert world.status()["live"] == before


def test_state_dir_is_private(world: World) -> None:
    world.status()  # the store exists
    mode = stat.S_IMODE(world.state.stat().st_mode)
    assert mode == 0o700, oct(mode)
    loose = {
        p.name: oct(stat.S_IMODE(p.stat().st_mode))
        for p in world.state.iterdir()
        if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}
