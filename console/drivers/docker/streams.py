"""The Docker Engine's streams, mixed into DockerRuntime: logs (raw bytes lines) and stats frames.

Logs come back exactly as the container wrote them — colour codes, secrets and all: callers pass
each line through `console.core.redact.sanitize_log_line` before showing, storing or matching it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

T = TypeVar("T")

_MAX_PARTIAL_LINE = (
    1 << 20
)  # a "line" with no newline is flushed after 1 MiB, never buffered forever
# The watcher of a followed log wakes at once when stopped (an Event's wait); this is only how
# often it looks whether the stream ended by itself (at a tenth of a second, the 40 watchers of
# an idle agent of 20 services cost it 0.7 % of a core).
_FINISHED_POLL_SECONDS = 1.0


class StreamsMixin:
    """Needs the runtime's bounded `_call` (see DockerRuntime)."""

    _call: Callable[..., Any]

    # ── logs (raw bytes: sanitize before use) ───────────────────────────────────────────────

    def logs(self, name: str, tail: int = 300, since: float | None = None) -> list[bytes]:
        """The last `tail` lines (stdout and stderr), optionally only those after `since`."""
        try:
            data = self._call(
                lambda client: client.api.logs(
                    name, stdout=True, stderr=True, tail=tail, since=since or None
                )
            )
        except docker.errors.NotFound:
            return []
        lines = bytes(data).split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def follow_logs(self, name: str, stop: threading.Event, tail: int = 0) -> Iterator[bytes]:
        """Yield raw lines as the container writes them. Ends when the container stops, when
        `stop` is set (at once, from any thread), or when the consumer closes the iterator.

        A blocking socket read cannot watch an Event, so setting `stop` must shut the HTTP
        response's socket down (docker's CancellableStream.close()); the blocked read returns at
        once and the stream ends as if the container had stopped. A `StopSignal` does that
        itself when set; for a plain Event a small watcher thread waits on it (a thread per
        followed log, woken every second: the agent, which follows two logs per service, passes
        StopSignals).
        """
        try:
            stream = self._call(
                lambda client: client.api.logs(
                    name, stdout=True, stderr=True, stream=True, follow=True, tail=tail
                )
            )
        except docker.errors.NotFound:
            return
        if isinstance(stop, StopSignal):
            ended = stop.on_set(stream.close)  # no watcher thread: set() closes the stream
        else:
            ended = _watch_for_stop(stream, stop, name)
        pending = b""
        try:
            for chunk in stream:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                yield from complete
                if len(pending) > _MAX_PARTIAL_LINE:
                    yield pending
                    pending = b""
                if stop.is_set():
                    return
            if pending and not stop.is_set():
                yield pending
        except (requests.exceptions.RequestException, OSError):
            return  # connection lost mid-stream (daemon restart): the caller re-follows
        finally:
            ended()
            with contextlib.suppress(Exception):
                stream.close()

    def stats_frames(self, name: str) -> Iterator[dict[str, Any]]:
        """The engine's stats stream for `name`: one decoded frame about every second, until the
        container stops or goes, or the connection drops (the caller decides whether to retry).
        NotFound when there is no such container."""
        frames = self._call(lambda client: client.api.stats(name, stream=True, decode=True))
        try:
            yield from frames
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
            # Connection lost or timed out mid-stream (the SDK reads the raw urllib3 response,
            # so its errors arrive unwrapped): the caller re-opens.
            return
        finally:
            with contextlib.suppress(Exception):
                frames.close()


class StopSignal(threading.Event):
    """An Event that also closes what was registered with `on_set` when it is set: a followed
    log's stream ends at once, with no thread waiting on the Event to close it."""

    def __init__(self) -> None:
        super().__init__()
        self._closers: list[Callable[[], object]] = []
        self._closers_lock = threading.Lock()

    def on_set(self, close: Callable[[], object]) -> Callable[[], None]:
        """Call `close` once this is set (at once if it already is); returns the way to forget
        it (the stream ended by itself)."""
        with self._closers_lock:
            self._closers.append(close)
        if self.is_set():
            _quietly(close)

        def forget() -> None:
            with self._closers_lock:
                if close in self._closers:
                    self._closers.remove(close)

        return forget

    def set(self) -> None:
        super().set()
        with self._closers_lock:
            closers, self._closers = self._closers, []
        for close in closers:
            _quietly(close)


def _quietly(close: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        close()


def _watch_for_stop(stream: Any, stop: threading.Event, name: str) -> Callable[[], None]:
    """A thread that closes `stream` once `stop` is set; returns what tells it the stream ended
    by itself."""
    finished = threading.Event()
    threading.Thread(
        target=_close_when_stopped,
        args=(stream, stop, finished),
        name=f"follow-logs-{name}",
        daemon=True,
    ).start()
    return finished.set


def _close_when_stopped(stream: Any, stop: threading.Event, finished: threading.Event) -> None:
    # Polls `finished` too, so the thread also ends when the stream ends by itself.
    while not stop.wait(_FINISHED_POLL_SECONDS):
        if finished.is_set():
            return
    with contextlib.suppress(Exception):
        stream.close()
