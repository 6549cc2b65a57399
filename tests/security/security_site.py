"""One installation on real parts for the security suite, and users the test creates.

A private nginx (Lua) with bluegreen's include, a real state dir with the store and an agent log,
a secrets file with a planted secret, and one group key set (`operators_group` or
`watchers_group`): the suite's files each build one and act on it as those users.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from console.core.config.load import load_config
from console.core.fsutil import private_file_mode
from console.core.redact import Redactor
from console.core.store.store import Store
from console.drivers.proxy import make_proxy
from console.sandbox.nginx_proc import NginxProcess
from tests.integration.proxy_helpers import free_ports, upstreams

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _importable_by_others(argv: list[str]) -> bool:
    probe = ["runuser", "-u", "nobody", "--", *argv, "-c", "import console.cli"]
    return subprocess.run(probe, capture_output=True, cwd="/", timeout=60).returncode == 0


@contextlib.contextmanager
def python_for_users() -> Iterator[list[str]]:
    """An interpreter other users can execute that imports this checkout (a venv's interpreter
    may live in root's private home; the system one with our paths works the same). A checkout
    below a directory others cannot enter (a CI clone under /root) is shown to them through a
    bind mount for the suite's duration."""
    site = [p for p in sys.path if p.endswith("site-packages") and p.startswith(str(ROOT))]

    def system_python(root: str) -> list[str]:
        paths = [root, *(p.replace(str(ROOT), root, 1) for p in site)]
        return ["/usr/bin/env", f"PYTHONPATH={':'.join(paths)}", "/usr/bin/python3"]

    for argv in ([sys.executable], system_python(str(ROOT))):
        if _importable_by_others(argv):
            yield argv
            return
    view = Path(tempfile.mkdtemp(prefix="bg-sec-src-", dir="/var/tmp"))
    os.chmod(view, 0o755)
    if run("mount", "--bind", str(ROOT), str(view)).returncode != 0:
        view.rmdir()
        pytest.skip("no Python interpreter that an unprivileged user can run with this checkout")
    try:
        argv = system_python(str(view))
        if not _importable_by_others(argv):
            pytest.skip("this checkout cannot be imported by an unprivileged user, even mounted")
        yield argv
    finally:
        run("umount", str(view))
        view.rmdir()


@contextlib.contextmanager
def local_users(group: str, users: dict[str, bool]) -> Iterator[None]:
    """Create `group` and each user (True: a member of it); remove them afterwards."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("the security suite creates users: it needs root, useradd and runuser")
    run("groupadd", "-f", group)
    for user, member in users.items():
        try:
            pwd.getpwnam(user)
        except KeyError:
            extra = ["-G", group] if member else []
            made = run("useradd", "-M", "-N", "-s", "/usr/sbin/nologin", *extra, user)
            assert made.returncode == 0, made.stderr
    try:
        yield
    finally:
        for user in users:
            run("userdel", user)
        run("groupdel", group)


@dataclass
class Site:
    base: Path
    state: Path
    config: Path
    nginx: NginxProcess
    python: list[str]

    def as_user(self, user: str, *argv: str) -> subprocess.CompletedProcess[str]:
        # -u keeps no supplementary groups of root's; runuser sets the target's own groups.
        return run("runuser", "-u", user, "--", *argv)

    def cli_as(self, user: str, *args: str, config: Path | None = None) -> tuple[int, str]:
        done = self.as_user(
            user, *self.python, "-m", "console", "--config", str(config or self.config), *args
        )
        return done.returncode, done.stdout + done.stderr

    def cli(self, *args: str) -> tuple[int, str]:
        done = run(sys.executable, "-m", "console", "--config", str(self.config), *args)
        return done.returncode, done.stdout + done.stderr

    def try_operator_lock(self, user: str) -> str:
        """What `user` got trying to take the operator lock ('TOOK THE LOCK' or the error)."""
        probe = (
            "from console.core.lock import OperatorLock\n"
            "from console.core.model import Actor\n"
            f"lock = OperatorLock({str(self.state)!r})\n"
            "try:\n"
            "    with lock.acquire('switch', Actor(user='x')):\n"
            "        print('TOOK THE LOCK')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n"
        )
        done = self.as_user(user, *self.python, "-c", probe)
        return done.stdout + done.stderr

    def served(self) -> set[str | None]:
        seen: set[str | None] = set()
        with httpx.Client(trust_env=False, timeout=5) as client:
            for _ in range(10):
                url = f"http://127.0.0.1:{self.nginx.listen_port}/graphql"
                seen.add(client.post(url, json={}).headers.get("X-Bluegreen-Color"))
        return seen

    @property
    def socket(self) -> Path:
        return Path(load_config(str(self.config)).admin_socket_path)


def _config_text(
    base: Path, ports: tuple[int, int], nginx: NginxProcess, group_line: str, extra: str
) -> str:
    argv = ", ".join(f'"{a}"' for a in nginx.test_command()[:-2])
    return f"""service = "sec"
state_dir = "{base / "state"}"
secrets_file = "{base / "secrets.env"}"
{group_line}
[image]
repository = "sec"
[source]
db_url = "${{SOURCE_DB}}"
[slots.blue]
container = "sec-blue"
host_port = {ports[0]}
db_url = "${{SOURCE_DB}}"
[slots.green]
container = "sec-green"
host_port = {ports[1]}
db_url = "${{SOURCE_DB}}"
[proxy]
include_dir = "{nginx.include_dir}"
proxy_url = "http://127.0.0.1:{nginx.listen_port}"
test_command = [{argv}, "-t", "-q"]
reload_command = [{argv}, "-s", "reload"]
verify_timeout_seconds = 3
{extra}
"""


@contextlib.contextmanager
def site_up(
    port_range: range, group_key: str, group: str, planted: str, secrets_group_readable: bool
) -> Iterator[Site]:
    """Blue live through a private nginx; agent.log holds a line with `planted` in it, and so
    does the store's event (as if redaction had failed) unless watchers may read the store:
    there it is recorded as bluegreen records it, redacted."""
    with python_for_users() as python, upstreams(port_range) as ports:
        listen, admin = free_ports(port_range, 2, avoid=ports)
        base = Path(tempfile.mkdtemp(prefix="bg-sec-", dir="/var/tmp"))
        os.chmod(base, 0o755)  # everyone may reach the config, as in /etc/bluegreen
        nginx = NginxProcess(base / "nginx", listen, admin, base / "include")
        nginx.write_main_conf()
        secrets = base / "secrets.env"
        secrets.write_text(f"SOURCE_DB=postgresql://sec:{planted}@127.0.0.1:9/db\n")
        os.chmod(secrets, 0o600)
        if secrets_group_readable:  # the documented step with operators_group
            os.chown(secrets, 0, grp.getgrnam(group).gr_gid)
            os.chmod(secrets, 0o640)
        config = base / "bluegreen.toml"
        config.write_text(_config_text(base, ports, nginx, f'{group_key} = "{group}"', ""))
        made = Site(base, base / "state", config, nginx, python)
        try:
            code, out = made.cli("proxy", "install")
            assert code == 0, out
            nginx.start()
            code, out = made.cli("proxy", "install", "--reload")
            assert code == 0, out
            make_proxy(load_config(str(config))).install("blue")
            watchers = group_key == "watchers_group"
            store = Store.open(made.state, Redactor([planted]).redact if watchers else None)
            store.set_live("blue", None)
            store.record_event("deploy", f"deployed with {planted}", "info", "root")
            store.close()
            log = made.state / "agent.log"
            log.write_text(f"agent log line {planted}\n")
            os.chmod(log, private_file_mode(made.state))
            yield made
        finally:
            nginx.stop()
            shutil.rmtree(base, ignore_errors=True)
