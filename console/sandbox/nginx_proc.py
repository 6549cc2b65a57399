"""A private nginx for the sandbox and the tests: own prefix, pid, logs and temp dirs, never /var.

It runs in the foreground (`daemon off;`) as our child, so stopping it cannot touch a system nginx
and a crashed test leaves no daemon behind. The include dir is a directory, as bluegreen replaces
files in it by rename (FACTS.md: a single mounted file would not follow).

One nginx may serve several services (a fleet): each is a `Site` — its own `server {}` on its own
listen port, including its own service's http and location files. The http includes then share
one http context, so each service's must name its upstream, maps and shared dict apart from the
others' (the renders do, after `[proxy] name`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from console.drivers.proxy.nginx.driver import HTTP_FILE, LOCATION_FILE
from console.sandbox.procs import child_pids

INCLUDES = (HTTP_FILE, LOCATION_FILE)
MODULES_DIR = Path("/usr/lib/nginx/modules")
LUA_MODULES = ("ndk_http_module.so", "ngx_http_lua_module.so")  # ndk first: lua depends on it


class NginxProcessError(Exception):
    """The private nginx could not start, reload or stop; str() says why."""


@dataclass(frozen=True)
class Site:
    """One service behind the nginx: the port its clients reach, the directory of its includes."""

    listen_port: int
    include_dir: Path


class NginxProcess:
    def __init__(
        self,
        prefix_dir: Path,
        listen_port: int,
        admin_port: int,
        include_dir: Path,
        more_sites: tuple[Site, ...] = (),
    ) -> None:
        self.prefix_dir = Path(prefix_dir)
        self.listen_port = listen_port
        # Only for an opted-in TCP admin endpoint (proxy.admin_url); by default the admin server
        # inside bluegreen-http.conf listens on a unix socket in the state dir.
        self.admin_port = admin_port
        self.include_dir = Path(include_dir)
        self.sites = (Site(listen_port, self.include_dir), *more_sites)
        self.conf_path = self.prefix_dir / "nginx.conf"
        self.pid_path = self.prefix_dir / "nginx.pid"
        self.error_log = self.prefix_dir / "logs" / "error.log"
        self._process: subprocess.Popen[bytes] | None = None

    def write_main_conf(self) -> Path:
        prefix = self.prefix_dir
        for sub in ("logs", "tmp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        for site in self.sites:
            site.include_dir.mkdir(parents=True, exist_ok=True)
        modules = "".join(f"load_module {MODULES_DIR / name};\n" for name in LUA_MODULES)
        # As root, workers default to `nobody`, which cannot enter a private (0700) temp dir.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        text = (
            f"{modules}{user}"
            "daemon off;\n"
            "worker_processes 2;\n"
            "worker_shutdown_timeout 10s;\n"
            f"pid {self.pid_path};\n"
            f"error_log {self.error_log} notice;\n\n"
            "events {\n    worker_connections 1024;\n}\n\n"
            "http {\n"
            "    access_log off;\n"
            f"{temp}"
            + "".join(f"    include {site.include_dir / HTTP_FILE};\n" for site in self.sites)
            + "".join(_server(site) for site in self.sites)
            + "}\n"
        )
        self.conf_path.write_text(text, encoding="utf-8")
        return self.conf_path

    def argv(self) -> list[str]:
        """The command that runs this nginx in the foreground."""
        return self._base_argv()

    def _base_argv(self) -> list[str]:
        return ["nginx", "-p", str(self.prefix_dir), "-c", str(self.conf_path)]

    def test_command(self) -> list[str]:
        return [*self._base_argv(), "-t", "-q"]

    def reload_command(self) -> list[str]:
        return [*self._base_argv(), "-s", "reload"]

    def start(self, timeout: float = 5.0) -> None:
        if not self.conf_path.exists():
            self.write_main_conf()
        for path in (site.include_dir / name for site in self.sites for name in INCLUDES):
            if not path.exists():
                raise NginxProcessError(
                    f"{path} is missing: write the bluegreen files first (NginxDriver.write_files)."
                )
        self.pid_path.unlink(missing_ok=True)
        log = (self.prefix_dir / "logs" / "stderr.log").open("ab")
        with log:
            self._process = subprocess.Popen(
                self._base_argv(), stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NginxProcessError(f"nginx exited at start: {self._last_error()}")
            if self.master_pid() is not None and len(self.worker_pids()) >= 2:
                return
            time.sleep(0.02)
        self.stop()
        raise NginxProcessError(f"nginx did not start within {timeout:.0f} s: {self._last_error()}")

    def reload(self) -> None:
        done = subprocess.run(self.reload_command(), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NginxProcessError(f"nginx reload failed: {done.stderr.strip()}")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)  # graceful: finish in-flight requests
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        self.pid_path.unlink(missing_ok=True)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def master_pid(self) -> int | None:
        if not self.running():
            return None
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def worker_pids(self) -> list[int]:
        """The master's live children (workers; during a reload, old workers too)."""
        return child_pids(self.master_pid())

    def _last_error(self) -> str:
        for path in (self.error_log, self.prefix_dir / "logs" / "stderr.log"):
            with contextlib.suppress(OSError):
                lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
                for line in reversed(lines):
                    if "[emerg]" in line or "[alert]" in line or "[crit]" in line:
                        return line.strip()
        return "see the error log in " + str(self.prefix_dir / "logs")

    def __enter__(self) -> NginxProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _server(site: Site) -> str:
    return (
        "\n    server {\n"
        f"        listen 127.0.0.1:{site.listen_port};\n"
        "        location / {\n"
        f"            include {site.include_dir / LOCATION_FILE};\n"
        "        }\n"
        "    }\n"
    )
