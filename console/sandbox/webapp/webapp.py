#!/usr/bin/python3
"""Stand-in for a plain web service (the `web` sandbox profile): no database, nothing to re-index.

Runs INSIDE the sandbox image: Python stdlib only (Debian bookworm's python3).

Shaped like the Next.js apps operators run behind nginx: `/health` answers 200 as soon as the
server listens (liveness), `/api/health/ready` (also `/ready`) answers 503 until READY_AFTER_SECONDS
have passed since start, then 200 (readiness — warm caches, loaded config); `/` is a page that
names the version, `/version` the same as JSON. One access-log line per request on stdout.

Env: PORT (8080), VERSION, READY_AFTER_SECONDS (5), NOT_READY_AGAIN_AFTER_SECONDS (0 = never:
readiness turns back to 503 that long after it turned 200 — a test knob).
Failure injection, for traffic analysis (set per deploy: `bluegreen deploy v2 --env
FAIL_POST_RATE=0.33`): FAIL_POST_RATE (0..1, share of POSTs answered 500 — exactly that share, every
k-th, so a test knows the mix) and SLOW_MS (added to every answer but /health and the ready
paths, which stay quick so the release still becomes ready and only its users see it).
Sessions, like the seed team's frontend (issue 26.1): `GET /login` opens a session — cookies
`sid` (random) and SESSION_COOKIE (default `deployment`) = VERSION, the version the session started
on —, `GET /logout` ends it, and `GET /api/deployment/active-sessions` answers
`{"version": V, "active": N}`: sessions neither ended nor idle for SESSION_IDLE_SECONDS (1800).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

READY_PATHS = ("/api/health/ready", "/ready")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        log("error", f"{name}={raw!r} is not a number; using {default}")
        return default


def log(level: str, message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sys.stdout.write(f"{stamp} {level.upper():>5} webapp: {message}\n")
    sys.stdout.flush()


class App:
    def __init__(
        self,
        version: str,
        ready_after: float,
        not_ready_again_after: float,
        fail_post_rate: float = 0.0,
        slow_ms: float = 0.0,
    ) -> None:
        self.version = version
        self.fail_post_rate = min(1.0, max(0.0, fail_post_rate))
        self.slow_ms = max(0.0, slow_ms)
        self.posts = 0
        self.started = time.monotonic()
        self.ready_after = ready_after
        self.not_ready_again_after = not_ready_again_after
        self.announced = False
        self.lock = threading.Lock()

    def ready(self) -> bool:
        up_for = time.monotonic() - self.started
        if up_for < self.ready_after:
            return False
        if self.not_ready_again_after and up_for >= self.ready_after + self.not_ready_again_after:
            return False
        with self.lock:
            if not self.announced:
                self.announced = True
                log("info", f"ready after {up_for:.1f}s")
        return True

    def post_fails(self) -> bool:
        """Whether this POST is one of the injected failures: the n-th fails when the running
        share floor(n × rate) steps up, so any run of posts holds the configured share."""
        with self.lock:
            self.posts += 1
            n = self.posts
        return int(n * self.fail_post_rate) > int((n - 1) * self.fail_post_rate)

    def page(self) -> bytes:
        return (
            "<!doctype html><html><head><title>webapp</title></head><body>"
            f"<h1>webapp {self.version}</h1><p>Served by the bluegreen web sandbox.</p>"
            "</body></html>"
        ).encode()


class Sessions:
    """The sessions this instance opened: sid → last seen (monotonic)."""

    def __init__(self, cookie: str, idle_seconds: float) -> None:
        self.cookie = cookie
        self.idle_seconds = idle_seconds
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def open(self) -> str:
        sid = secrets.token_hex(8)
        with self.lock:
            self.seen[sid] = time.monotonic()
        return sid

    def touch(self, sid: str) -> None:
        with self.lock:
            if sid in self.seen:
                self.seen[sid] = time.monotonic()

    def end(self, sid: str) -> bool:
        with self.lock:
            return self.seen.pop(sid, None) is not None

    def active(self) -> int:
        oldest = time.monotonic() - self.idle_seconds
        with self.lock:
            self.seen = {sid: at for sid, at in self.seen.items() if at >= oldest}
            return len(self.seen)


def cookies_of(header: str | None) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in (header or "").split(";"))
    return {name: value for name, _, value in pairs if name}


def make_handler(app: App, sessions: Sessions) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real app server behind nginx
        disable_nagle_algorithm = True  # headers and body are two writes; no delayed-ACK stall
        timeout = 300  # an idle keep-alive connection must not pin a thread forever

        def version_string(self) -> str:
            return f"webapp/{app.version}"

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per request is written by _send, with the status

        def _send(
            self, status: int, body: bytes, content_type: str, cookies: tuple[str, ...] = ()
        ) -> None:
            self.send_response(status)
            for cookie in cookies:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            log("info", f'"{self.command} {self.path}" {status} {len(body)}')

        def _session(self, path: str) -> bool:
            """The session paths; True when this request was one."""
            sid = cookies_of(self.headers.get("Cookie")).get("sid", "")
            if sid:
                sessions.touch(sid)
            if path == "/login":
                new = sessions.open()
                cookies = (f"sid={new}; Path=/", f"{sessions.cookie}={app.version}; Path=/")
                body = json.dumps({"session": new, "version": app.version}).encode()
                self._send(200, body, "application/json", cookies)
            elif path == "/logout":
                ended = sessions.end(sid)
                gone = ("sid=; Path=/; Max-Age=0", f"{sessions.cookie}=; Path=/; Max-Age=0")
                body = json.dumps({"ended": ended, "version": app.version}).encode()
                self._send(200, body, "application/json", gone)
            elif path == "/api/deployment/active-sessions":
                body = json.dumps({"version": app.version, "active": sessions.active()}).encode()
                self._send(200, body, "application/json")
            else:
                return False
            return True

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if self._session(path):
                return
            if app.slow_ms and path != "/health" and path not in READY_PATHS:
                time.sleep(app.slow_ms / 1000)
            if path == "/health":
                self._send(200, b"OK", "text/plain; charset=utf-8")
            elif path in READY_PATHS:
                if app.ready():
                    self._send(200, b"ready", "text/plain; charset=utf-8")
                else:
                    self._send(503, b"not ready", "text/plain; charset=utf-8")
            elif path == "/version":
                body = json.dumps({"service": "webapp", "version": app.version}).encode()
                self._send(200, body, "application/json")
            elif path in ("/", "/index.html"):
                self._send(200, app.page(), "text/html; charset=utf-8")
            else:
                self._send(404, b"Not Found", "text/plain; charset=utf-8")

        do_HEAD = do_GET

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)
            if app.fail_post_rate and app.post_fails():
                self._send(500, b"injected failure (FAIL_POST_RATE)", "text/plain; charset=utf-8")
                return
            self.do_GET()

    return Handler


def main() -> int:
    version = os.environ.get("VERSION", "dev")
    port = int(os.environ.get("PORT", "8080"))
    app = App(
        version,
        env_float("READY_AFTER_SECONDS", 5.0),
        env_float("NOT_READY_AGAIN_AFTER_SECONDS", 0.0),
        env_float("FAIL_POST_RATE", 0.0),
        env_float("SLOW_MS", 0.0),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sessions = Sessions(
        os.environ.get("SESSION_COOKIE", "deployment"), env_float("SESSION_IDLE_SECONDS", 1800.0)
    )
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(app, sessions))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log("info", f"webapp {version} listening on 0.0.0.0:{port} (ready in {app.ready_after:g}s)")
    if app.fail_post_rate or app.slow_ms:
        injected = f"FAIL_POST_RATE={app.fail_post_rate:g} SLOW_MS={app.slow_ms:g}"
        log("warn", f"failure injection: {injected}")
    stop.wait()
    log("info", "received shutdown signal, exiting")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
