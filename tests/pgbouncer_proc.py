"""A real PgBouncer (Debian's `pgbouncer`) in front of a test PostgreSQL, for the pooler tests.

One process serves the server's database `store` under two names, one per pool mode:
`store_tx` (`pool_mode = transaction`, which breaks session advisory locks) and `store_session`
(`pool_mode = session`, which keeps them). Its files live in a directory of its own; it runs as
the `postgres` user when we are root (PgBouncer refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from console.sandbox.postgres_proc import PostgresServer

PGBOUNCER = "/usr/sbin/pgbouncer"


def available() -> bool:
    return Path(PGBOUNCER).exists() or shutil.which("pgbouncer") is not None


def _ini(server: PostgresServer, directory: Path, port: int) -> str:
    backend = f"host=127.0.0.1 port={server.port} dbname=store"
    return (
        "[databases]\n"
        f"store_tx = {backend} pool_mode=transaction\n"
        f"store_session = {backend} pool_mode=session\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir = {directory}\n"
        f"auth_type = scram-sha-256\nauth_file = {directory}/userlist.txt\n"
        f"logfile = {directory}/pgbouncer.log\npidfile = {directory}/pgbouncer.pid\n"
        "default_pool_size = 10\nmax_client_conn = 100\n"
    )


@contextlib.contextmanager
def pgbouncer(server: PostgresServer, directory: Path, port: int) -> Iterator[str]:
    """PgBouncer on 127.0.0.1:`port`; yields the URL of `store` with DB left for the caller
    (`url.format(db="store_tx")`)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "userlist.txt").write_text(f'"{server.user}" "{server.password}"\n')
    (directory / "pgbouncer.ini").write_text(_ini(server, directory, port))
    argv = [shutil.which("pgbouncer") or PGBOUNCER, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:  # it switches user itself, so our signals reach it
        entry = pwd.getpwnam("postgres")
        for path in (directory, *directory.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        argv = [argv[0], "-u", "postgres", argv[1]]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening(port, proc)
        yield f"postgresql://{server.user}:{server.password}@127.0.0.1:{port}/{{db}}"
    finally:
        proc.send_signal(signal.SIGTERM)  # immediate shutdown
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"pgbouncer did not listen on {port}")
