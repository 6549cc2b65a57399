"""Who may watch, on real parts, as unprivileged users the test creates (issue 15.3).

The installation sets `watchers_group`: the state dir is that group's, 2750, and only the store
(with its -wal and -shm), the lock holder and the agent's pid file are 0640. `bgsec-w` is a
member. It can run `status`, `status --json`, `history` and the read-only console, with an
agent-like writer holding the store open and with none, and none of it creates or changes a
file; every mutating command is one sentence, traffic does not move; it cannot reach the admin
socket (in the 0700 `admin/`), nor read the token, agent.log or secrets, nor hold the operator
lock. `bgsec-out2`, outside the group, cannot even watch.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.lock import OperatorLock
from console.core.model import Actor
from console.core.store.store import DB_FILE, Store
from console.drivers.proxy.nginx.admin import TOKEN_FILE
from tests import ports
from tests.security.security_site import Site, local_users, site_up

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PORT_RANGE = ports.WATCHERS
GROUP, WATCHER, OUTSIDER = "bgsec-watch", "bgsec-w", "bgsec-out2"
PLANTED = "PLANTED-" + os.urandom(6).hex()

_TUI_PROBE = """
import asyncio, sys
from console.core.config.load import load_config
from console.tui.app import BluegreenApp
from console.wiring import open_console

async def main():
    console = open_console(load_config(sys.argv[1], watching=True), read_only=True)
    app = BluegreenApp(console)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(2.5)  # a few polls of the store
        for key in ("S", "R", "D", "y"):
            await pilot.press(key)
            await pilot.pause()
        print("DIALOGS", len(app.screen_stack) - 1)
        print(app.export_screenshot())
    console.close()

asyncio.run(main())
"""


# The same, through the CLI's own dispatch of plain `bluegreen` (the operator console): a watcher
# must land in the read-only console, not fail on the secrets file only operators may read.
_UI_PROBE = """
import asyncio, sys
import console.tui.app as tui_app
from console.cli import commands, parse_args
from console.wiring import open_console

async def drive(console):
    app = tui_app.BluegreenApp(console)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(2.5)
        for key in ("S", "R", "D", "y"):
            await pilot.press(key)
            await pilot.pause()
        print("DIALOGS", len(app.screen_stack) - 1)
        print(app.export_screenshot())
    return 0

tui_app.run_app = lambda console: asyncio.run(drive(console))
args = parse_args(["--config", sys.argv[1]])
sys.exit(commands.dispatch(args)(args))
"""


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with (
        local_users(GROUP, {WATCHER: True, OUTSIDER: False}),
        site_up(PORT_RANGE, "watchers_group", GROUP, PLANTED, secrets_group_readable=False) as made,
    ):
        yield made


def _snapshot(state: Path) -> dict[str, tuple[int, int, int]]:
    """What a watcher must never change: every entry's (inode, size, mtime)."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns) for p in state.iterdir()
    }


def _event_count(site: Site) -> int:
    store = Store.open_read_only(site.state)
    try:
        return len(store.events(limit=10_000))
    finally:
        store.close()


def _watch_everything(site: Site) -> list[str]:
    outputs = []
    code, out = site.cli_as(WATCHER, "status", "--json")
    assert code == 0, out
    status = json.loads(out)
    assert status["live"] == "blue", status
    outputs.append(out)
    for args in (("status",), ("history",), ("history", "--json")):
        code, out = site.cli_as(WATCHER, *args)
        assert code == 0 and "Traceback" not in out, (args, out)
        outputs.append(out)
    assert "deployed with" in outputs[-1]  # the planted event is there, its secret is not
    return outputs


def test_layout_gives_watchers_the_store_and_nothing_else(site: Site) -> None:
    info = site.state.stat()
    assert stat.S_IMODE(info.st_mode) == 0o2750
    readable = {DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", "operator.holder", "agent.json"}
    for path in site.state.iterdir():
        if path.is_file():
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o640 if path.name in readable else 0o600), (path.name, oct(mode))
    assert site.socket.parent == site.state / "admin" and site.socket.is_socket()
    assert stat.S_IMODE(site.socket.parent.stat().st_mode) & 0o077 == 0


def test_watcher_sees_status_and_history_with_no_writer_and_changes_nothing(site: Site) -> None:
    assert not (site.state / f"{DB_FILE}-wal").exists()  # no process has the store open
    before = _snapshot(site.state)
    for out in _watch_everything(site):
        assert PLANTED not in out
    assert _snapshot(site.state) == before


def test_watcher_follows_a_live_writer_and_sees_the_lock_holder(site: Site) -> None:
    writer = Store.open(site.state)  # as the agent does: open for its whole life
    lock = OperatorLock(site.state)
    try:
        with lock.acquire("warm-up", Actor(user="root")):
            pass  # the lock file exists from here on, as on any installation that acted once
        writer.record_event("switch", "a commit the watcher must see", "success", "root")
        assert (site.state / f"{DB_FILE}-wal").exists()
        names = set(_snapshot(site.state))
        with lock.acquire("deploy v9", Actor(user="alice")):
            code, out = site.cli_as(WATCHER, "status", "--json")
            names_while_held = set(_snapshot(site.state))
        assert code == 0, out
        holder = json.loads(out)["lock"]
        assert holder and holder["user"] == "alice" and holder["action"] == "deploy v9", holder
        code, out = site.cli_as(WATCHER, "history")
        assert code == 0 and "a commit the watcher must see" in out, out
        assert names_while_held == names | {"operator.holder"}  # the watcher added no file
        assert set(_snapshot(site.state)) == names
        watcher_uid = pwd.getpwnam(WATCHER).pw_uid
        assert all(p.stat().st_uid != watcher_uid for p in site.state.iterdir())
    finally:
        writer.close()


def test_watcher_runs_the_read_only_console(site: Site) -> None:
    before = _snapshot(site.state)
    done = site.as_user(WATCHER, *site.python, "-c", _TUI_PROBE, str(site.config))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DIALOGS 0" in done.stdout  # S, R, D bound to nothing
    screen = done.stdout.replace("&#160;", " ")
    assert "READ-ONLY" in screen and PLANTED not in screen
    assert _snapshot(site.state) == before


def test_watcher_opening_the_operator_console_gets_the_read_only_one(site: Site) -> None:
    before = _snapshot(site.state)
    done = site.as_user(WATCHER, *site.python, "-c", _UI_PROBE, str(site.config))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DIALOGS 0" in done.stdout
    screen = done.stdout.replace("&#160;", " ")
    assert "READ-ONLY" in screen and PLANTED not in screen
    assert _snapshot(site.state) == before


def test_watcher_cannot_act_and_gets_one_sentence(site: Site) -> None:
    events_before = _event_count(site)
    before = _snapshot(site.state)
    for args in (
        ("switch", "--yes", "--force"),
        ("rollback", "--yes"),
        ("deploy", "v2"),
        ("reconcile",),
        ("proxy", "install", "--reload"),
    ):
        code, out = site.cli_as(WATCHER, *args)
        lines = [line for line in out.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and "Traceback" not in out, (args, out)
        assert f"{WATCHER} may not" in out and "watch" in out, (args, out)
    assert site.served() == {"blue"}
    assert _snapshot(site.state) == before
    assert _event_count(site) == events_before


def test_watcher_cannot_switch_or_read_what_is_private(site: Site) -> None:
    url = "http://admin/bluegreen/live?color=green"
    tried = site.as_user(
        WATCHER, "curl", "-sS", "--unix-socket", str(site.socket), "-X", "POST", url
    )
    assert tried.returncode != 0 and "green" not in tried.stdout, tried
    assert site.served() == {"blue"}
    (site.state / TOKEN_FILE).write_text("token-" + PLANTED)
    os.chmod(site.state / TOKEN_FILE, 0o600)
    for path in (site.state / TOKEN_FILE, site.state / "agent.log", site.base / "secrets.env"):
        peek = site.as_user(WATCHER, "cat", str(path))
        assert peek.returncode != 0 and "Permission denied" in peek.stderr, (path, peek)
    # cannot hold the operator lock, not even a shared one that would block operators
    for lock in ("operator.lock", "agent.lock"):
        if (site.state / lock).exists():
            held = site.as_user(WATCHER, "flock", "-s", "-n", str(site.state / lock), "true")
            assert held.returncode != 0, (lock, held)
    took = site.try_operator_lock(WATCHER)
    assert "TOOK THE LOCK" not in took and "StateDirError" in took, took


def test_outsider_cannot_even_watch(site: Site) -> None:
    for args in (("status", "--json"), ("history",)):
        code, out = site.cli_as(OUTSIDER, *args)
        assert code == 1 and "Traceback" not in out and PLANTED not in out, out
        assert f"{OUTSIDER} may not read this installation's state" in out, out
    peek = subprocess.run(
        ["runuser", "-u", OUTSIDER, "--", "cat", str(site.state / DB_FILE)],
        capture_output=True,
        text=True,
    )
    assert peek.returncode != 0
