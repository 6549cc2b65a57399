"""The engine reads a watcher makes every second, as plain HTTP on a socket each thread keeps.

An agent watching 20 services asks its engine for about three inspects and one ping a second:
each container's inspect again every 15 s although the event stream says nothing changed
(agent/container_cache.py), and the ping that vouches for the stream (events.py). Through the SDK
(requests, urllib3, http.client, a prepared request and a session's merged settings each time)
one such read cost the asking thread 1–2 ms of CPU; the same request on a kept unix socket
(console/drivers/kept_http.py) costs about a tenth of that. The engine's answer is the same
document, turned into a `ContainerInfo` by the same code (model.py).

Only for an engine on a unix socket (the default one, Podman's). Anything this does not expect
(another status than 200 or 404, an answer that is not JSON, a garbled one) is asked again
through the SDK, which says what went wrong in its own words; a timeout and a refused or missing
socket are the runtime's own errors, as through the SDK.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from console.core.contracts.runtime import (
    ContainerRuntimeError,
    RuntimeNotAnswering,
    RuntimeUnavailable,
)
from console.drivers.kept_http import READ_ERRORS, KeptHttp
from console.drivers.lean_http import Answer

_UNIX = "unix://"
_UNHANDLED = object()  # the lean read could not tell: ask through the SDK


class LeanReadsMixin:
    """Needs the runtime's `where`, `read_timeout` and its two error sentences."""

    read_timeout: float
    _lean_http: KeptHttp | None
    _lean_lock: threading.Lock
    _call: Callable[..., Any]
    _connect: Callable[[float], Any]

    if TYPE_CHECKING:

        @property
        def where(self) -> str: ...
        def _not_answering(self, bound: float) -> RuntimeNotAnswering: ...
        def _unavailable(self, exc: Exception) -> RuntimeUnavailable: ...

    def _lean(self) -> KeptHttp | None:
        where = self.where
        if not where.startswith(_UNIX):
            return None
        with self._lean_lock:
            if self._lean_http is None:
                self._lean_http = KeptHttp(where[len(_UNIX) :], "docker")
            return self._lean_http

    def _lean_get(self, target: str) -> Answer | None:
        """GET `target` on the engine; None when the SDK should ask instead."""
        lean = self._lean()
        if lean is None:
            return None
        try:
            return lean.request("GET", target, self.read_timeout)
        except TimeoutError:
            raise self._not_answering(self.read_timeout) from None
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
            raise self._unavailable(exc) from None
        except READ_ERRORS:
            return None

    def lean_inspect(self, name: str) -> Any:
        """The engine's inspect document for `name`, None when there is no such container, or
        `_UNHANDLED` (see `handled`)."""
        version = self._api_version()
        if version is None:
            return _UNHANDLED
        answer = self._lean_get(f"/v{version}/containers/{quote(name, safe='')}/json")
        if answer is None:
            return _UNHANDLED
        if answer.status_code == 404 and b"no such container" in answer.content.lower():
            return None  # said so in words: not a path this engine does not know
        if answer.status_code != 200:
            return _UNHANDLED
        try:
            document = json.loads(answer.content)
        except ValueError:
            return _UNHANDLED
        return document if isinstance(document, dict) else _UNHANDLED

    def _api_version(self) -> str | None:
        """The API version the SDK's client agreed with the engine (asked once, when it was
        built), so a lean read gets the very document the SDK would; None if it cannot say."""
        try:
            version = self._connect(self.read_timeout).api.api_version
        except ContainerRuntimeError:
            raise  # not answering, or not there: the runtime's own error, after one wait only
        except Exception:
            return None  # the SDK path will say what is wrong
        return str(version) if version else None

    def engine_ping(self) -> None:
        """The engine answers a ping, or this raises as the SDK's ping through `_call` does."""
        answer = self._lean_get("/_ping")
        if answer is None or answer.status_code != 200:
            self._call(lambda client: client.api.ping())


def handled(document: Any) -> bool:
    return document is not _UNHANDLED
