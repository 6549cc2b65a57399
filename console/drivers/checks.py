"""Readiness observations of a candidate: its HTTP health, a smoke request, and a log pattern.

`/health` answers 200 from startup (even mid re-index), so it is only one gate condition; the smoke
request exercises the real API (a GraphQL POST), and the log pattern catches the service saying it
has caught up. Details returned are short phrases for the gate's condition lines, never URLs.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from console.core import timeouts
from console.drivers.kept_http import READ_ERRORS, KeptHttp, NoAnswer, ProtocolViolation
from console.drivers.lean_http import (
    HTTP_ERRORS,
    Answer,
    environment_proxies,
    proxy_applies,
    request,
)
from console.drivers.proxy.probe import shared_tls_context

CHECK_TIMEOUT_SECONDS = timeouts.HTTP_CHECK_SECONDS
_DETAIL_CHARS = 120
# The reference service logs with ANSI colours unless NO_COLOR=1; codes can sit inside a message.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _literal_address(server: KeptHttp) -> bool:
    """An IP address, not a name: a name's lookup is not bounded by the socket's timeout."""
    return not isinstance(server.address, tuple) or _is_ip(server.address[0])  # or a unix socket


@functools.cache
def _is_ip(host: str) -> bool:
    """Decided once per host: a quick check asks it at every request."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


_HEADERS = (("Accept", "*/*"), ("User-Agent", "bluegreen-check"))
# What a check can fail with: the plain request's, the lean request's, or the proxied client's.
CHECK_ERRORS = (*READ_ERRORS, *HTTP_ERRORS, httpx.HTTPError)


def _failure(exc: Exception) -> str:
    if isinstance(exc, httpcore.TimeoutException | httpx.TimeoutException | TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, httpcore.ConnectError | httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(
        exc, httpcore.RemoteProtocolError | httpx.RemoteProtocolError | NoAnswer | ConnectionError
    ):
        return "connection closed without an answer"
    if isinstance(exc, ProtocolViolation):
        return "not an HTTP/1.1 answer"
    if isinstance(exc, OSError):  # no route, no such host: the plain request's connect
        return "cannot connect"
    return type(exc).__name__


class QuickMiss(Exception):
    """A quick checker's request did not answer within its bound, or is not a plain local
    request: the checks are for the sampler's thread, with their full timeout."""


class HttpChecker:
    """Health and smoke requests to one colour's published port, over kept-alive connections
    (console/drivers/lean_http.py: the agent asks these of every colour every tick).

    `quick_within`: a checker for the agent's own thread (console/agent/samplers.py, `quick`).
    Each request must be a plain http:// one to an IP address (a name's lookup has no bound)
    and answer whole within that many seconds; otherwise it raises QuickMiss instead of
    reporting a failed check, and the sampler's thread checks again with the full timeout. A
    refusal, an error status or a bad answer within the bound is the check's result, as on the
    thread.

    A URL the environment's proxy settings apply to (HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, not
    excluded by NO_PROXY: read once, when the checker is built) goes through a full httpx client
    with trust_env, as every check did before. Redirects are not followed (httpx's default, as
    before). No cookie jar on the direct path: each check stands alone, as a load balancer's
    probe does; a Set-Cookie of one answer is not sent back with the next (the proxied client
    still keeps httpx's jar)."""

    def __init__(self, base_url: str, quick_within: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.quick_within = quick_within
        self._pool = httpcore.ConnectionPool(ssl_context=shared_tls_context())
        self._proxies = environment_proxies()
        self._proxied: httpx.Client | None = None  # built when a URL needs the proxy
        self._plain: dict[tuple[str, int, str], KeptHttp] = {}  # plain http://, by server

    def _request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        if "://" not in url:  # a path, joined as a client with this base_url would
            url = f"{self.base_url}/{url.lstrip('/')}"
        headers_sent = [*_HEADERS, *(headers or {}).items()]
        proxied = proxy_applies(url, self._proxies)
        plain = None if proxied else self._plain_http(url)
        if self.quick_within is not None:
            if plain is None or not _literal_address(plain[0]):
                raise QuickMiss  # never the URL: it may hold a token
            server, target = plain
            try:
                return server.request(
                    method, target, self.quick_within, headers_sent, content, whole=True
                )
            except TimeoutError as exc:
                raise QuickMiss from exc
        if proxied:
            return self._through_proxy(method, url, headers_sent, content)
        if plain is not None:
            server, target = plain
            return server.request(method, target, CHECK_TIMEOUT_SECONDS, headers_sent, content)
        return request(self._pool, method, url, CHECK_TIMEOUT_SECONDS, headers_sent, content)

    def _plain_http(self, url: str) -> tuple[KeptHttp, str] | None:
        """A plain `http://host[:port]/path` URL's server and request target, sent as they are
        over a kept socket (console/drivers/kept_http.py); None for anything else (https, a
        user in the URL, a name or path that is not ASCII), which httpcore sends."""
        try:
            parts = urlsplit(url)
            port = parts.port or 80
        except ValueError:
            return None
        host = parts.hostname
        if parts.scheme != "http" or not host or "@" in parts.netloc or not url.isascii():
            return None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (host, port, parts.netloc)
        server = self._plain.get(key)
        if server is None:
            server = self._plain[key] = KeptHttp((host, port), parts.netloc)
        return server, target

    def _through_proxy(
        self, method: str, url: str, headers: list[tuple[str, str]], content: bytes | None
    ) -> Answer:
        if self._proxied is None:
            # trust_env (httpx's default): the environment's proxy, NO_PROXY and CA settings.
            self._proxied = httpx.Client(timeout=CHECK_TIMEOUT_SECONDS)
        response = self._proxied.request(method, url, headers=headers, content=content)
        return Answer(response.status_code, response.headers, response.content)

    def health(self, path: str, expect: str = "") -> tuple[bool, str]:
        """(ok, detail): ok on any 2xx whose body contains `expect` (when given)."""
        try:
            response = self._request("GET", path)
        except CHECK_ERRORS as exc:
            return False, _failure(exc)
        if response.is_success and expect and expect not in response.text:
            return False, _short(f"HTTP {response.status_code} without {expect!r}")
        return response.is_success, f"HTTP {response.status_code}"

    def check(self, url: str, expect_status: int) -> tuple[bool, str]:
        """(ok, detail) of an extra readiness check: ok when `url` answers `expect_status`.
        The detail never carries the URL (it may hold a token)."""
        try:
            response = self._request("GET", url)
        except CHECK_ERRORS as exc:
            return False, _failure(exc)
        if response.status_code == expect_status:
            return True, f"HTTP {response.status_code}"
        return False, f"HTTP {response.status_code}, expected {expect_status}"

    def smoke(self, method: str, path: str, body: str) -> tuple[bool, str]:
        """(ok, detail): ok on 2xx whose JSON answer, if any, has no non-empty "errors"."""
        headers: dict[str, str] = {}
        if body and body.lstrip()[:1] in ("{", "["):
            headers["Content-Type"] = "application/json"
        try:
            response = self._request(
                method.upper(), path, content=body.encode() if body else None, headers=headers
            )
        except CHECK_ERRORS as exc:
            return False, _failure(exc)
        if not response.is_success:
            return False, f"HTTP {response.status_code}"
        errors = _json_errors(response)
        if errors:
            return False, _short(f"HTTP {response.status_code} with errors: {errors}")
        return True, f"HTTP {response.status_code}"

    def close(self) -> None:
        self._pool.close()
        for server in self._plain.values():
            server.close()
        if self._proxied is not None:
            self._proxied.close()


def _json_errors(response: Answer) -> str:
    """The first error message of a JSON answer's non-empty "errors", or "" (none, or not JSON)."""
    content_type = response.headers.get("content-type", "")
    looks_json = "json" in content_type or response.content.lstrip()[:1] in (b"{", b"[")
    if not looks_json:
        return ""
    try:
        document: Any = json.loads(response.content)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    errors = document.get("errors")
    if not errors:
        return ""
    first = errors[0] if isinstance(errors, list) else errors
    if isinstance(first, dict) and "message" in first:
        return str(first["message"])
    return str(first)


class LogPatternWatcher:
    """Remembers whether a log line has matched `pattern` (a regular expression) since `reset()`."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex = re.compile(pattern)
        self.seen = False

    def feed(self, line: str) -> bool:
        """Look at one line; return whether the pattern has been seen (now or before)."""
        if self.seen:
            return True
        plain = _ANSI.sub("", line) if "\x1b" in line else line
        if self._regex.search(plain):
            self.seen = True
        return self.seen

    def reset(self) -> None:
        """Forget a match, e.g. when the container restarts (its old logs say nothing about now)."""
        self.seen = False
