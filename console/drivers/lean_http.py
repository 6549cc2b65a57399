"""A lean HTTP/1.1 request over httpcore's kept-alive pool, for what the agent asks every tick.

The agent's per-tick requests (each colour's health and smoke checks, the nginx admin
endpoint's colour and counters) went through a full httpx client: its URL merging, cookie jar,
auth and redirect layers cost as much again per request as the request itself, and none of them
applies here. httpcore's pool keeps the connection alive and bounds every phase by `timeout`;
an environment proxy is never used (it must never sit between the agent and a colour or its
proxy, as for the proxy's probes).
"""

from __future__ import annotations

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

    def __init__(self, response: httpcore.Response) -> None:
        self.status_code = response.status
        self.headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers
        }
        self.content = response.content

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
    return Answer(response)
