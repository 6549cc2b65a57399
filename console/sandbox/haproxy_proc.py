"""A private HAProxy for the sandbox and the tests: our child process, own socket and pid file.

It runs in master-worker mode in the foreground (`-W -db`), so stopping it is killing our child.
The backend section is the one `HaproxyDriver` renders for operators, so the tests exercise it.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path

from console.sandbox.procs import child_pids


class HaproxyProcessError(Exception):
    """The private HAProxy could not start or stop; str() says why."""


class HaproxyProcess:
    def __init__(self, prefix_dir: Path, listen_port: int, admin_socket: Path) -> None:
        self.prefix_dir = Path(prefix_dir)
        self.listen_port = listen_port
        self.admin_socket = Path(admin_socket)
        self.conf_path = self.prefix_dir / "haproxy.cfg"
        self.log_path = self.prefix_dir / "haproxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    def write_conf(self, backend_section: str, backend: str = "bluegreen") -> Path:
        self.prefix_dir.mkdir(parents=True, exist_ok=True)
        text = (
            "global\n"
            f"    stats socket {self.admin_socket} mode 600 level admin\n"
            f"    pidfile {self.prefix_dir / 'haproxy.pid'}\n\n"
            "defaults\n"
            "    mode http\n"
            "    timeout connect 2s\n"
            "    timeout client 30s\n"
            "    timeout server 30s\n"
            "    timeout http-keep-alive 30s\n\n"
            "frontend bluegreen_front\n"
            f"    bind 127.0.0.1:{self.listen_port}\n"
            f"    default_backend {backend}\n\n"
            f"{backend_section}"
        )
        self.conf_path.write_text(text, encoding="utf-8")
        return self.conf_path

    def test_command(self) -> list[str]:
        return ["haproxy", "-c", "-q", "-f", str(self.conf_path)]

    def start(self, timeout: float = 5.0) -> None:
        if not self.conf_path.exists():
            raise HaproxyProcessError(f"{self.conf_path} is missing: call write_conf first.")
        self.admin_socket.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                ["haproxy", "-W", "-db", "-f", str(self.conf_path)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HaproxyProcessError(f"haproxy exited at start: {self._last_line()}")
            if self._socket_answers():
                return
            time.sleep(0.02)
        self.stop()
        raise HaproxyProcessError(f"haproxy did not start within {timeout:.0f} s.")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def master_pid(self) -> int | None:
        return self._process.pid if self.running() and self._process else None

    def worker_pids(self) -> list[int]:
        return child_pids(self.master_pid())

    def _socket_answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(str(self.admin_socket))
                sock.sendall(b"show info\n")
                return bool(sock.recv(64))
        except OSError:
            return False

    def _last_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln]
            if lines:
                return lines[-1].strip()
        return f"see {self.log_path}"

    def __enter__(self) -> HaproxyProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
