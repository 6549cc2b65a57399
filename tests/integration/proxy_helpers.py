"""Shared by the proxy integration tests: dummy upstreams and a config pointing at them.

The upstreams answer `/health` and `POST /graphql` with 200 and never set X-Bluegreen-Color: the
proxy alone must say which colour served.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from console.core.config import Config, ProxyConfig, SlotConfig


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
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


@contextmanager
def upstreams(blue_port: int, green_port: int) -> Iterator[None]:
    servers = [_Server(("127.0.0.1", port), _Handler) for port in (blue_port, green_port)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def make_config(tmp: Path, blue_port: int, green_port: int, proxy: ProxyConfig) -> Config:
    slots = {
        "blue": SlotConfig(container="t-blue", host_port=blue_port, db_url="postgresql://x/b"),
        "green": SlotConfig(container="t-green", host_port=green_port, db_url="postgresql://x/g"),
    }
    return Config(service="test", state_dir=str(tmp / "state"), slots=slots, proxy=proxy)
