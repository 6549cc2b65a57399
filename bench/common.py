"""Shared by the benchmarks: the machine, percentiles, tables, results, upstreams, a probe and hey.

Upstreams and the probe run as separate processes (`python -m bench.common upstream|probe …`) so
that the benchmark's own Python (driving switches) never shares a GIL with what it measures. Every
timestamp is `time.monotonic()`, CLOCK_MONOTONIC, which is comparable across processes on Linux.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from console.core.fsutil import atomic_write

RESULTS_DIR = Path(__file__).resolve().parent / "results"
GRAPHQL_BODY = json.dumps(
    {
        "query": "query Blocks($n: Int!) { blocks(last: $n) { height root timestamp "
        "numTransactions transactions { hash } } }",
        "variables": {"n": 10},
        "operationName": "Blocks",
    }
)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ── figures ─────────────────────────────────────────────────────────────────────────────────────


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def fmt(value: object, digits: int = 1) -> str:
    """A figure for a table: thousands separated, `digits` decimals for floats, — for None."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def ratio(old: float | None, new: float | None) -> str:
    """How many times better `new` is than `old` (both "lower is better")."""
    if old is None or new is None:
        return "—"
    if new <= 0:
        return "∞×" if old > 0 else "="
    return f"{old / new:,.1f}×"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "  ".join("─" * w for w in widths)
    body = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, rule, *body])


def _first_line(argv: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        text = (done.stdout + done.stderr).strip()
        return text.splitlines()[0] if text else "unknown"
    return "not installed"


def machine() -> dict[str, str | int | float]:
    """What the figures were measured on."""
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    from console.sandbox.postgres_proc import PostgresError, find_pg_bin

    try:
        postgres = _first_line([find_pg_bin("postgres"), "--version"])
    except PostgresError:
        postgres = "not installed"
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": cpu,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "nginx": _first_line(["nginx", "-v"]),
        "haproxy": _first_line(["haproxy", "-v"]),
        "postgres": postgres,
    }


def write_results(name: str, data: dict[str, object]) -> Path:
    # The smoke tests point this elsewhere so they never overwrite the published figures.
    path = Path(os.environ.get("BLUEGREEN_BENCH_RESULTS") or RESULTS_DIR) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "measured_at": time.time(), "machine": machine(), **data}
    atomic_write(path, json.dumps(payload, indent=2) + "\n", mode=0o644)
    return path


def chosen(parser: argparse.ArgumentParser, listed: str, choices: tuple[str, ...]) -> list[str]:
    """The comma-separated names in `listed`; a usage error naming the first unknown one."""
    names = [name.strip() for name in listed.split(",") if name.strip()]
    unknown = [name for name in names if name not in choices]
    if unknown:
        parser.error(f"unknown {unknown[0]!r}: choose from {', '.join(choices)}")
    return names


def require_hey() -> None:
    if not shutil.which("hey"):
        sys.exit("hey is not installed: `apt-get install hey` (or ./dev setup).")


def free_port_or_exit(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"Port {port} is in use: stop whatever holds it (another benchmark?) first.")


# ── upstreams: a tiny asyncio HTTP/1.1 keep-alive server per colour ─────────────────────────────


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # One write per response and no Nagle: a header/body split waits ~40 ms for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0") or 0)
            if length:
                await reader.readexactly(length)
            if headers.get(b"upgrade", b"").lower() == b"websocket":
                key = headers.get(b"sec-websocket-key", b"")
                accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
                writer.write(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                )
                await writer.drain()
                while await reader.read(65536):  # hold the subscription until the peer goes
                    pass
                return
            body = b'{"data":{"blocks":[]}}' if method == b"POST" else b"OK"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", port, backlog=1024)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def upstreams(ports: list[int]) -> Iterator[None]:
    """One upstream process per port, answering POST /graphql, GET /health and websockets."""
    processes = []
    try:
        for port in ports:
            free_port_or_exit(port)
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.common", "upstream", str(port)],
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            processes.append(process)
            assert process.stdout is not None
            if process.stdout.readline().strip() != "listening":
                raise RuntimeError(f"The benchmark upstream on port {port} did not start.")
        yield
    finally:
        for process in processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            if process.poll() is None:
                process.kill()
                process.wait()


# ── the probe: which colour answers, every millisecond or so ────────────────────────────────────


def _probe_loop(host: str, port: int, path: str, interval: float) -> None:
    """Print `<monotonic> <colour>` whenever the answering colour changes, `<t> error` on errors."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    last = ""
    sock: socket.socket | None = None
    buffer = b""
    out = sys.stdout
    while True:
        try:
            if sock is None:
                sock = socket.create_connection((host, port), timeout=2)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = b""
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            now = time.monotonic()
            fields = head.decode("latin-1").split("\r\n")
            status = int(fields[0].split()[1])
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)
            }
            length = int(headers.get("content-length", "0"))
            while len(buffer) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buffer += chunk
            buffer = buffer[length:]
            colour = headers.get("x-bluegreen-color", "") if status < 500 else ""
            colour = colour or f"status-{status}"
            if headers.get("connection", "").lower() == "close":
                sock.close()
                sock = None
        except (OSError, ValueError, IndexError):
            now = time.monotonic()
            colour = "error"
            if sock is not None:
                sock.close()
            sock = None
        if colour != last or colour == "error":
            out.write(f"{now:.6f} {colour}\n")
            out.flush()
            last = colour
        time.sleep(interval)


@dataclass
class Probe:
    """A probe process polling the proxy; `transitions` holds (monotonic time, colour)."""

    url_host: str
    url_port: int
    path: str = "/health"
    interval: float = 0.001
    transitions: list[tuple[float, str]] = field(default_factory=list)
    _process: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Probe:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.common",
                "probe",
                self.url_host,
                str(self.url_port),
                self.path,
                str(self.interval),
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            stamp, _, colour = line.strip().partition(" ")
            with self._lock:
                self.transitions.append((float(stamp), colour))

    def wait_for(self, colour: str, after: float, timeout: float = 10.0) -> float | None:
        """The first time after `after` the probe saw `colour`, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.first(colour, after)
            if seen is not None:
                return seen
            time.sleep(0.002)
        return None

    def first(self, colour: str, after: float) -> float | None:
        with self._lock:
            return next((t for t, c in self.transitions if t >= after and c == colour), None)

    def seen_between(self, start: float, end: float) -> list[tuple[float, str]]:
        with self._lock:
            return [(t, c) for t, c in self.transitions if start <= t < end]

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(5)
        if self._thread is not None:
            self._thread.join(5)


# ── hey: keep-alive POST load whose failures are counted ────────────────────────────────────────


@dataclass
class LoadResult:
    requests: int
    failures: int
    seconds: float
    statuses: dict[str, int]
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_hey(output: str) -> LoadResult:
    """hey's summary: every response by status, every socket error (EOF, reset…) by message."""
    total = re.search(r"Total:\s+([\d.]+) secs", output)
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    section = ""
    for line in output.splitlines():
        if line.startswith("Status code distribution"):
            section = "status"
            continue
        if line.startswith("Error distribution"):
            section = "error"
            continue
        match = re.match(r"\s+\[(\d+)\]\s+(.*)", line)
        if not match:
            continue
        if section == "status":
            statuses[match.group(1)] = int(match.group(2).split()[0])
        elif section == "error":
            # Messages name the URL; keep the reason (after the last ': ').
            reason = match.group(2).rsplit(": ", 1)[-1]
            errors[reason] = errors.get(reason, 0) + int(match.group(1))
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    requests = sum(statuses.values()) + sum(errors.values())
    return LoadResult(
        requests=requests,
        failures=requests - ok,
        seconds=float(total.group(1)) if total else 0.0,
        statuses=statuses,
        errors=errors,
    )


class HeyLoad:
    """`hey -c C -q Q -m POST -T application/json -D body` until stopped (SIGINT → report)."""

    def __init__(self, url: str, body_file: Path, connections: int = 20, rate: int = 600) -> None:
        body_file.write_text(GRAPHQL_BODY)
        per_worker = max(1, rate // connections)
        self.argv = [
            "hey",
            "-c",
            str(connections),
            "-q",
            str(per_worker),
            "-z",
            "3600s",
            "-m",
            "POST",
            "-T",
            "application/json",
            "-D",
            str(body_file),
            url,
        ]
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> HeyLoad:
        self._process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return self

    def stop(self) -> LoadResult:
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)
        output, _ = self._process.communicate(timeout=60)
        result = parse_hey(output)
        if result.requests == 0:
            raise RuntimeError(f"hey reported no requests:\n{output[-2000:]}")
        return result

    def __exit__(self, *_: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


# ── websockets held open through the proxy ──────────────────────────────────────────────────────


def open_websockets(port: int, count: int, path: str = "/graphql/ws") -> list[socket.socket]:
    """`count` upgraded connections through the proxy at 127.0.0.1:`port`."""
    sockets: list[socket.socket] = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(index.to_bytes(16, "big")).decode()
        sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 101"):
            sock.close()
            for other in sockets:
                other.close()
            raise RuntimeError(f"websocket upgrade refused: {answer[:80]!r}")
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_websockets(sockets: list[socket.socket]) -> int:
    """How many of `sockets` the other side has closed (EOF or reset)."""
    closed = 0
    for sock in sockets:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            continue
        try:
            if sock.recv(4096) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.common")
    sub = parser.add_subparsers(dest="what", required=True)
    up = sub.add_parser("upstream")
    up.add_argument("port", type=int)
    probe = sub.add_parser("probe")
    probe.add_argument("host")
    probe.add_argument("port", type=int)
    probe.add_argument("path")
    probe.add_argument("interval", type=float)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.what == "upstream":
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            asyncio.run(_serve(args.port))
    else:
        with contextlib.suppress(KeyboardInterrupt, SystemExit, BrokenPipeError):
            _probe_loop(args.host, args.port, args.path, args.interval)


if __name__ == "__main__":
    main(sys.argv[1:])
