"""What every progress source shares: a label and key path for its sentences, and for the HTTP
kinds one keep-alive client whose failures become sentences (never a URL, never a header value)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from console.core.contracts.progress import Reading, SourceUnavailable, SourceUnreachable
from console.core.redact import Redactor


@dataclass(frozen=True)
class Place:
    """Where a source is configured and for whom: `key` is "head" or "candidate" (what the
    sentences tell the operator to check), `label` the sentence's subject."""

    key: str
    label: str
    color: str | None = None  # None for the head
    statement_timeout_ms: int = 2000

    @property
    def name(self) -> str:
        return f"The {self.label}"


class BaseSource:
    """Defaults for the Protocol's optional parts: sources that ask, not listen to logs."""

    reads_logs = False

    def __init__(self, place: Place) -> None:
        self.place = place
        self.label = place.label

    def __repr__(self) -> str:  # never a URL or a header
        return f"{type(self).__name__}(label={self.label!r})"

    def read(self) -> Reading:  # pragma: no cover - every kind overrides it
        raise NotImplementedError

    def feed_line(self, line: str) -> None:
        return None

    def reset(self) -> None:
        return None

    def close(self) -> None:
        return None


class HttpFetcher:
    """One keep-alive client per source. `fetch()` returns the answer's bytes on a 2xx, else
    raises SourceUnavailable naming what failed and which key to check."""

    def __init__(
        self,
        place: Place,
        url: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout_seconds: float = 3.0,
        secrets: Iterable[str] = (),
    ) -> None:
        self.place = place
        self.url = url
        self.method = method
        self.body = body
        self.headers = dict(headers or {})
        if body and body.lstrip()[:1] in (b"{", b"[") and not _has(self.headers, "content-type"):
            self.headers["Content-Type"] = "application/json"
        self.timeout_seconds = timeout_seconds
        self.redactor = Redactor([url, *self.headers.values(), *secrets])
        # trust_env=False: an HTTP(S)_PROXY meant for the internet must not sit in front of a
        # loopback indexer port.
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=True, trust_env=False)

    def fetch(self) -> httpx.Response:
        name, key = self.place.name, self.place.key
        try:
            response = self._client.request(
                self.method, self.url, content=self.body, headers=self.headers
            )
        except httpx.TimeoutException:
            raise SourceUnreachable(
                f"{name} did not answer within {self.timeout_seconds:g} s (timeout); check that "
                f"the service at {key}.url is up, or raise {key}.timeout_seconds."
            ) from None
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "cannot connect"
            raise SourceUnreachable(
                f"{name} is unreachable ({reason}); check {key}.url and that the service "
                "listens there. Retrying."
            ) from None
        except httpx.InvalidURL:
            raise SourceUnavailable(f"{name} URL is not valid; fix {key}.url.") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"{name} request failed ({type(exc).__name__}); check {key}.url. Retrying."
            ) from None
        if not response.is_success:
            raise SourceUnavailable(
                f"{name} answered HTTP {response.status_code}; {_advice(response.status_code, key)}"
            )
        return response

    def sentence(self, exc: SourceUnavailable) -> SourceUnavailable:
        """The same failure (and class) with every secret of this source masked."""
        return type(exc)(self.redactor.redact(str(exc)))

    def close(self) -> None:
        self._client.close()


def _has(headers: dict[str, str], name: str) -> bool:
    return any(k.lower() == name for k in headers)


def _advice(status: int, key: str) -> str:
    if status in (401, 403):
        return f"check the credentials in {key}.headers."
    if status in (404, 405):
        return f"check the path in {key}.url."
    if status >= 500:
        return "the service is failing or starting; retrying."
    return f"check {key}.url and {key}.body."
