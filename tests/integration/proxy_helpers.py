"""Shared by the proxy integration tests: dummy upstreams and a config pointing at them (a real
proxy per DRIVERS row in front of them: proxy_world.py).

The upstreams answer `/health` and `POST /graphql` with 200 and never set X-Bluegreen-Color: the
proxy alone must say which colour served. For the traffic counters, `GET /fail` answers 500,
`GET /slow?ms=N` answers 200 after N ms, and `GET /ws` with `Upgrade: websocket` answers 101 and
then holds the connection (echoing bytes) until the client closes it: a websocket as the proxy
sees one, without framing (see `open_websocket`). Each answers under a `/NAME/` prefix too (a
service routed by path in a shared proxy: fleet_world.py).

Ports come from each test file's assigned range, skipping any that cannot be bound right now: the
range lies inside Linux's ephemeral range, so a client socket in TIME_WAIT (ours or another
test's) can hold one of them for a minute.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import httpx

from console.core.config.schema import (
    Config,
    NginxProxyConfig,
    ProxyConfig,
    SlotConfig,
)
from console.core.contracts.proxy import COLOR_HEADER, ProxyDriver
from console.core.listening import bind_error
from console.core.measures.traffic import LATENCY_BOUNDS_MS, ColourCounters, TrafficSnapshot
from console.core.model import Color
from console.drivers.proxy import make_proxy
from console.drivers.proxy.nginx.driver import NginxDriver
from console.sandbox.nginx_proc import NginxProcess

# RFC 6455's sample handshake (HAProxy refuses an upgrade without a key, and checks the answer).
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service
    disable_nagle_algorithm = True  # no ~40 ms Nagle/delayed-ACK stall between header and body

    def parse_request(self) -> bool:
        # A service routed by path prefix in a shared proxy (fleet_world.py) gets /NAME/ws:
        # answer it as /ws.
        parsed = super().parse_request()
        self.path = re.sub(r"^/[a-z]+(?=/)", "", self.path)
        return parsed

    def _answer(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ws" and self.headers.get("Upgrade"):
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", WS_ACCEPT)
            self.end_headers()
            self.wfile.flush()
            while data := self.connection.recv(4096):
                self.connection.sendall(data)
            self.close_connection = True
            return
        if self.path == "/fail":
            self._answer(b"injected failure", 500)
            return
        if self.path.startswith("/slow?ms="):
            time.sleep(int(self.path.split("=", 1)[1]) / 1000)
        self._answer(b"OK")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(b'{"data":{"ok":true}}')

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A proxy stopped by a test resets its idle upstream connections: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def bindable(port: int) -> bool:
    return bind_error("127.0.0.1", port) is None


def free_ports(candidates: Iterable[int], count: int, avoid: Iterable[int] = ()) -> list[int]:
    taken = set(avoid)
    found = [p for p in candidates if p not in taken and bindable(p)][:count]
    if len(found) < count:
        raise RuntimeError(f"not enough free ports in {candidates}")
    return found


@contextmanager
def upstreams(candidates: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Start the blue and green dummies on the first two bindable ports; yield those ports."""
    servers: list[_Server] = []
    for port in candidates:
        if len(servers) == 2:
            break
        try:
            servers.append(_Server(("127.0.0.1", port), _Handler))
        except OSError:
            continue
    if len(servers) < 2:
        for server in servers:
            server.server_close()
        raise RuntimeError(f"no two free ports for the dummy upstreams in {candidates}")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield servers[0].server_address[1], servers[1].server_address[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def open_websocket(port: int, path: str = "/ws", timeout: float = 5.0) -> socket.socket:
    """An upgraded connection through the proxy on `port`: open until the caller closes it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode("ascii")
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"the proxy closed the upgrade: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise ConnectionError(f"no 101 from the proxy: {head.splitlines()[0]!r}")
    sock.sendall(b"ping")  # the tunnel carries bytes both ways
    assert sock.recv(4) == b"ping"
    return sock


def make_config(tmp: Path, blue_port: int, green_port: int, proxy: ProxyConfig) -> Config:
    slots = {
        "blue": SlotConfig(container="t-blue", host_port=blue_port, db_url="postgresql://x/b"),
        "green": SlotConfig(container="t-green", host_port=green_port, db_url="postgresql://x/g"),
    }
    return Config(service="test", state_dir=str(tmp / "state"), slots=slots, proxy=proxy)


def nginx_proxy_config(
    nginx: NginxProcess,
    admin_socket: Path,
    mode: Literal["live", "reload"] = "live",
    **extra: object,
) -> NginxProxyConfig:
    """`[proxy]` for a private nginx: its include dir, port, test and reload commands; `extra`
    sets or overrides other keys."""
    proxy = NginxProxyConfig(
        mode=mode,
        include_dir=str(nginx.include_dir),
        proxy_url=f"http://127.0.0.1:{nginx.listen_port}",
        admin_socket=str(admin_socket),
        test_command=nginx.test_command(),
        reload_command=nginx.reload_command(),
        verify_timeout_seconds=3.0,
    )
    return dataclasses.replace(proxy, **extra)  # type: ignore[arg-type]


@contextmanager
def fronted_nginx(
    tmp: Path, candidates: Iterable[int], mode: Literal["live", "reload"], lua: bool = True
) -> Iterator[tuple[NginxProcess, NginxDriver]]:
    """A private nginx in `mode` in front of two loopback upstreams, blue live. `lua=False`: the
    same nginx without the Lua module (its load_module lines left out)."""
    candidates = list(candidates)
    with upstreams(candidates) as (blue, green):
        listen, admin = free_ports(candidates, 2, avoid=(blue, green))
        nginx = NginxProcess(tmp / "nginx", listen, admin, tmp / "include")
        sock_dir = Path(tempfile.mkdtemp(prefix=f"bg-{mode}-nginx-"))
        conf = nginx.write_main_conf()
        if not lua:
            text = conf.read_text()
            conf.write_text("".join(ln for ln in text.splitlines(True) if "load_module" not in ln))
        proxy = nginx_proxy_config(nginx, sock_dir / "admin.sock", mode)
        driver = nginx_driver(make_config(tmp, blue, green, proxy))
        driver.write_files("blue")
        try:
            nginx.start()
            if mode == "live":
                driver.install("blue")  # the shared dict starts empty
            yield nginx, driver
        finally:
            nginx.stop()
            shutil.rmtree(sock_dir, ignore_errors=True)


def nginx_driver(config: Config) -> NginxDriver:
    """The nginx driver `config`'s mode picks (its DRIVERS row)."""
    driver = make_proxy(config)
    assert isinstance(driver, NginxDriver)
    return driver


def served_by(port: int, method: str = "GET") -> str | None:
    """The colour that answered a GET /health (or a POST /graphql) through the proxy on `port`."""
    proxy = f"http://127.0.0.1:{port}"
    with httpx.Client(trust_env=False) as client:
        if method == "POST":
            response = client.post(f"{proxy}/graphql", json={"query": "{ ok }"})
        else:
            response = client.get(f"{proxy}/health")
    assert response.status_code == 200
    color: str | None = response.headers.get(COLOR_HEADER)
    return color


def served(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> str:
    """The colour that answered a GET of `url`/health with `headers`."""
    response = client.get(f"{url}/health", headers=headers or {})
    assert response.status_code == 200, response.text
    return str(response.headers.get(COLOR_HEADER, ""))


def session_visitors(url: str) -> dict[str, str]:
    """Who serves a session kept on blue (deployment=v1.4.0), another version's session, and a
    client with no cookie ([sessions])."""
    with httpx.Client(trust_env=False, timeout=5) as client:
        return {
            "kept": served(client, url, {"Cookie": "sid=a1; deployment=v1.4.0"}),
            "other": served(client, url, {"Cookie": "sid=b2; deployment=v1.5.0"}),
            "none": served(client, url),
        }


def by_cookie(url: str, clients: range) -> dict[int, str]:
    """The colour each client (a distinct canary cookie) is served by, through the proxy."""
    with httpx.Client(trust_env=False, timeout=5) as client:
        return {i: served(client, url, {"Cookie": f"bluegreen_canary=client-{i}"}) for i in clients}


def traffic_settled(
    driver: ProxyDriver,
    color: Color,
    done: Callable[[ColourCounters], bool],
    seconds: float = 2.0,
) -> TrafficSnapshot:
    """The proxy's counters once `done` holds for `color` (or after `seconds`). nginx counts in
    the log phase, after the answer has left, and each worker flushes its sums every 0.1 s: a
    reading taken right after the last answer may still be a request short."""
    deadline = time.monotonic() + seconds
    while True:
        snapshot = driver.traffic()
        assert snapshot is not None
        counters = snapshot.colours.get(color)
        if (counters is not None and done(counters)) or time.monotonic() >= deadline:
            return snapshot
        time.sleep(0.05)


def traffic_quiet(driver: ProxyDriver, seconds: float = 0.3) -> TrafficSnapshot:
    """The counters once two readings `seconds` apart agree: nothing still on its way in."""
    previous = driver.traffic()
    while True:
        time.sleep(seconds)
        snapshot = driver.traffic()
        assert previous is not None and snapshot is not None
        if snapshot.colours == previous.colours:
            return snapshot
        previous = snapshot


# A known request mix: so many 200s, 500s and slow 200s, counted exactly per colour.
N_OK, N_FAIL, N_SLOW, SLOW_MS = 40, 7, 10, 120
MIX_TOTAL = N_OK + N_FAIL + N_SLOW


def send_mix(port: int) -> list[float]:
    """The mix through the proxy on `port`, one request after another; each answer's time as
    the client saw it (ms). The proxy's own time for a request is never longer, so a figure the
    proxy reports can be bounded by what the client saw, whatever the machine's load."""
    base = f"http://127.0.0.1:{port}"
    seen: list[float] = []

    def get(path: str, status: int) -> None:
        started = time.perf_counter()
        assert client.get(f"{base}{path}").status_code == status
        seen.append((time.perf_counter() - started) * 1000)

    with httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(N_OK):
            get("/health", 200)
        for _ in range(N_FAIL):
            get("/fail", 500)
        for _ in range(N_SLOW):
            get(f"/slow?ms={SLOW_MS}", 200)
    return seen


def bucket_ceiling(ms: float) -> float:
    """The upper bound of the latency bucket that holds an answer the client saw take `ms`: no
    interpolated percentile of answers at most that long can exceed it. The proxy times in
    whole milliseconds, so one more is allowed for its rounding."""
    return next((bound for bound in LATENCY_BOUNDS_MS if ms + 1 <= bound), LATENCY_BOUNDS_MS[-1])


def operator_nginx_conf(
    snippet: str, nginx_dir: Path, port: int, workers: int = 1, connections: int = 128
) -> str:
    """The operator's own nginx.conf with the lines `proxy snippet` tells them to add: its
    load_module lines on top, its first include inside `http { }`, its second inside the
    server's location (what a first install on real nginx does by hand)."""
    includes = re.findall(r"^\s*include (\S+);$", snippet, re.MULTILINE)
    http_file, location_file = includes  # "inside http { }", then "inside the server { }"
    server = (
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        "        location / {\n"
        f"            include {location_file};\n"
        "        }\n"
        "    }\n"
    )
    modules = "\n".join(re.findall(r"^load_module .*;$", snippet, re.MULTILINE))
    modules = modules.replace("modules/", "/usr/lib/nginx/modules/")
    body = f"    include {http_file};\n{server}"
    return nginx_conf_around(modules, body, nginx_dir, workers, connections)


def nginx_conf_around(
    modules: str, http_body: str, nginx_dir: Path, workers: int = 1, connections: int = 128
) -> str:
    """A private nginx.conf: `modules` (load_module lines) on top, `http_body` in `http { }`."""
    temp = "".join(
        f"    {kind}_temp_path {nginx_dir / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{modules}
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes {workers};
worker_shutdown_timeout 10s;
pid {nginx_dir / "nginx.pid"};
error_log {nginx_dir / "logs" / "error.log"} notice;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
{temp}{http_body}}}
"""
