"""A lean HTTP/1.1 request over httpcore's kept-alive pool, for what the agent asks every tick.

The agent's per-tick requests (each colour's health and smoke checks, the nginx admin
endpoint's colour and counters) went through a full httpx client: its URL merging, cookie jar,
auth and redirect layers cost as much again per request as the request itself, and none of them
applies here. httpcore's pool keeps the connection alive and bounds every phase by `timeout`.

httpcore knows no environment proxy. The admin reads never want one (as for the proxy's probes);
the checks keep honouring HTTP(S)_PROXY / ALL_PROXY / NO_PROXY as httpx's trust_env did:
`proxy_applies` says, from the settings `environment_proxies` read once, whether a URL would go
through a proxy, and the checker sends those through a full httpx client instead.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Mapping

import httpcore

# What a request can fail with, short of a bug: no connection, no (whole) answer, a bad URL.
HTTP_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
)


class Answer:
    """One response, read whole: its status, headers (lower-case names) and body."""

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.content = content

    @classmethod
    def of(cls, response: httpcore.Response) -> Answer:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in response.headers}
        return cls(response.status, headers, response.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # an unknown charset
            return self.content.decode("utf-8", errors="replace")


def request(
    pool: httpcore.ConnectionPool,
    method: str,
    url: str,
    timeout: float,
    headers: list[tuple[str, str]] | None = None,
    content: bytes | None = None,
) -> Answer:
    """One request, its answer read whole; raises one of HTTP_ERRORS."""
    response = pool.request(
        method,
        url,
        headers=headers or [],
        content=content,
        extensions={
            "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        },
    )
    return Answer.of(response)


def environment_proxies() -> dict[str, str]:
    """The environment's proxy settings (scheme → proxy URL, "no" → NO_PROXY), as httpx's
    trust_env reads them (urllib.request.getproxies). Read once by the caller: the environment
    of a running agent does not change."""
    return urllib.request.getproxies()


def proxy_applies(url: str, proxies: Mapping[str, str]) -> bool:
    """Whether httpx with trust_env would send `url` through a proxy of `proxies`: one is set for
    its scheme (or ALL_PROXY) and NO_PROXY does not name its host. Loopback is not exempt unless
    NO_PROXY names it, as with httpx."""
    parts = urllib.parse.urlsplit(url)
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    host = parts.hostname or ""
    where = host if parts.port is None else f"{host}:{parts.port}"
    # NO_PROXY's matching as urllib has it (public at runtime, missing from the type stubs).
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return not bypass(where, dict(proxies))
