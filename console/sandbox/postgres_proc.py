"""A private PostgreSQL server for the sandbox and the tests, from the system's PostgreSQL binaries.

It runs its own cluster in `data_dir` on its own port with password (scram) authentication, so the
sandbox has real credentials to keep secret. PostgreSQL refuses to run as root: when we are root the
cluster is owned by and run as the `postgres` system user (created by Debian's postgresql package).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

PG_BIN_DIRS = [Path("/usr/lib/postgresql") / v / "bin" for v in ("17", "16", "15", "14", "13")]


class PostgresError(Exception):
    """The sandbox database could not be set up; the message says what to do."""


def find_pg_bin(name: str) -> str:
    for directory in PG_BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise PostgresError(
        f"PostgreSQL's `{name}` was not found. "
        "Install the server: `sudo apt-get install postgresql`."
    )


class PostgresServer:
    """One cluster: `init()` once, `start()`, then `url(db)`; `stop()` and `destroy()` undo it."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        password: str,
        listen: tuple[str, ...] = ("127.0.0.1",),
        user: str = "bluegreen",
        clients: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.password = password
        self.listen = listen
        self.user = user
        self.clients = clients  # more networks that may connect (e.g. "10.78.0.0/24")
        self._run_as = "postgres" if os.geteuid() == 0 else None

    # ── lifecycle ──
    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / f".pgpass-init-{self.port}"
        pwfile.write_text(self.password + "\n")
        try:
            self._own(self.data_dir, pwfile)
            self._run(
                [
                    find_pg_bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ],
            )
        finally:
            pwfile.unlink(missing_ok=True)
        hba = self.data_dir / "pg_hba.conf"
        # Containers reach the server over the docker bridge (172.16.0.0/12); nothing else may.
        hba.write_text(
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all 172.16.0.0/12 scram-sha-256\n"
            + "".join(f"host all all {net} scram-sha-256\n" for net in self.clients)
        )
        self._own(hba)

    def start(self, timeout: float = 30.0) -> None:
        if self.running():
            return
        self.init()
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses='{','.join(self.listen)}' "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            [
                find_pg_bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
        )

    def stop(self) -> None:
        if not self.initialized or not self.running():
            return
        self._run([find_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def running(self) -> bool:
        if not self.initialized:
            return False
        result = subprocess.run(
            self._argv([find_pg_bin("pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0

    # ── databases ──
    def url(self, database: str, host: str = "127.0.0.1") -> str:
        return f"postgresql://{self.user}:{self.password}@{host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create `name` if missing; return its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.Error as exc:
                last = exc
                time.sleep(0.2)
        raise PostgresError(f"PostgreSQL on port {self.port} did not accept connections: {last}")

    # ── helpers ──
    def _argv(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self._run_as, "--", *argv] if self._run_as else argv

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(self._argv(argv), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            log = self.data_dir / "server.log"
            raise PostgresError(
                f"`{Path(argv[0]).name}` failed for the sandbox database in {self.data_dir}: "
                f"{' / '.join(detail)}. See {log} for details."
            )

    def _own(self, *paths: Path) -> None:
        if not self._run_as:
            return
        entry = pwd.getpwnam(self._run_as)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            if path.is_dir():
                os.chmod(path, 0o700)
        # The postgres user must be able to traverse every parent directory.
        for parent in self.data_dir.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise PostgresError(
                    f"{parent} is not traversable by the postgres user, so the sandbox database "
                    f"cannot live under it. Choose a sandbox directory outside it (e.g. /var/lib)."
                )
