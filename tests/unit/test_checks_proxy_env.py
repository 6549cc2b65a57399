"""The HTTP checks honour the environment's proxy settings as httpx's trust_env did: a URL an
HTTP_PROXY applies to goes through that proxy; one NO_PROXY names (or with no proxy set) goes
straight to the colour over the lean kept-alive request. Real local servers on free ports: a
target, and a forwarding proxy that records the absolute-URI request lines it is sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from console.drivers.checks import HttpChecker
from console.drivers.lean_http import proxy_applies

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, server.server_address[1]


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def target() -> Iterator[int]:
    class Target(_Quiet):
        def do_GET(self) -> None:
            self.answer(b"direct-ok")

    server, port = _serve(Target)
    yield port
    server.shutdown()
    server.server_close()


@pytest.fixture()
def proxy() -> Iterator[tuple[int, list[str]]]:
    """A proxy that answers for whatever it is asked (it need not forward to prove it was used)."""
    seen: list[str] = []

    class Proxy(_Quiet):
        def do_GET(self) -> None:
            seen.append(self.path)  # absolute-form: http://host:port/path
            self.answer(b"via-proxy")

    server, port = _serve(Proxy)
    yield port, seen
    server.shutdown()
    server.server_close()


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def _health(port: int, expect: str) -> tuple[bool, str]:
    checker = HttpChecker(f"http://127.0.0.1:{port}")
    try:
        return checker.health("/health", expect=expect)
    finally:
        checker.close()


def test_a_check_goes_through_the_environment_proxy(
    clean_env: pytest.MonkeyPatch, target: int, proxy: tuple[int, list[str]]
) -> None:
    proxy_port, seen = proxy
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    assert _health(target, "via-proxy")[0]
    assert seen == [f"http://127.0.0.1:{target}/health"]


def test_no_proxy_sends_the_check_straight_to_the_colour(
    clean_env: pytest.MonkeyPatch, target: int, proxy: tuple[int, list[str]]
) -> None:
    proxy_port, seen = proxy
    clean_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    clean_env.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert _health(target, "direct-ok")[0]
    assert seen == []


def test_without_proxy_settings_the_check_is_direct(
    clean_env: pytest.MonkeyPatch, target: int
) -> None:
    assert _health(target, "direct-ok")[0]


def test_which_urls_a_proxy_applies_to() -> None:
    proxies = {"http": "http://p:3128", "no": ".internal,10.0.0.5"}
    assert proxy_applies("http://127.0.0.1:8080/health", proxies)  # loopback is not exempt
    assert not proxy_applies("https://127.0.0.1/health", proxies)  # no HTTPS proxy set
    assert not proxy_applies("http://api.internal:80/x", proxies)
    assert not proxy_applies("http://10.0.0.5:9000/x", proxies)
    assert proxy_applies("https://example.org/", {"all": "http://p:3128"})
    assert not proxy_applies("http://example.org/", {"http": "http://p:3128", "no": "*"})
    assert not proxy_applies("http://example.org/", {})
