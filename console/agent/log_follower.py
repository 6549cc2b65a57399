"""A colour's logs, read as much as what reads them needs.

`LogFollower` follows one container's logs on a thread: it feeds the readiness log pattern and a
`kind = "log"` progress source, which must see every line, and keeps the last lines (sanitized,
redacted) to explain a failure. Its own thread, so a Docker daemon that hangs stops only the log
lines, never the agent's tick.

`ErrorTail` is for a colour whose lines nothing reads one by one (no log pattern, no log source:
most web services). A failure's reason is the only reader, so the last lines are fetched when a
failure asks for them, never followed: a busy service's access log (a line per request) would
otherwise cost the agent every line, and an idle one a thread and a wake per health check
(issue 23's idle cost). `watch_logs` picks one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from console.core.contracts.progress import ProgressSource
from console.core.contracts.runtime import Runtime
from console.core.redact import Redactor, sanitize_log_line
from console.drivers.checks import LogPatternWatcher
from console.drivers.docker.streams import StopSignal

_ERROR_WORDS = ("ERROR", "error", "panic", "FATAL", "Traceback")
_KEPT_LINES = 50
# A failure asks for its error line at every full tick: the tail is fetched again at most this
# often, so a newer error line shows within it.
ERROR_TAIL_REFRESH_SECONDS = 10.0
# The first ask waits this long for the tail, on the asking thread: the failure's first event and
# notification carry its error line (Docker answers a tail in milliseconds; a hung one costs the
# tick this once, then the fetch goes on without it).
ERROR_TAIL_FIRST_WAIT_SECONDS = 0.5


class LogWatch(Protocol):
    """What a colour's watch reads of its container's logs."""

    @property
    def pattern_seen(self) -> bool | None: ...

    def last_error(self) -> str | None: ...

    def stop(self) -> None: ...


def watch_logs(
    runtime: Callable[[], Runtime],
    redactor: Redactor,
    container: str,
    pattern: str,
    progress: ProgressSource | None = None,
) -> LogWatch:
    """A follower where a log pattern or a log progress source reads every line; otherwise the
    tail, fetched when a failure asks for its reason."""
    if pattern or (progress is not None and progress.reads_logs):
        return LogFollower(runtime, redactor, container, pattern, progress)
    return ErrorTail(runtime, redactor, container)


def _is_error(line: str) -> bool:
    return any(word in line for word in _ERROR_WORDS)


def _newest_error(lines: Iterable[str]) -> str | None:
    """The newest line that reads like an error, cut to what a reason shows."""
    error = None
    for line in lines:
        if _is_error(line):
            error = line
    return error[:300] if error is not None else None


class LogFollower:
    """A thread that follows one container's logs, feeding the readiness pattern and keeping the
    last lines (sanitized, redacted) to explain a failure."""

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        redactor: Redactor,
        container: str,
        pattern: str,
        progress: ProgressSource | None = None,
    ) -> None:
        # The container engine, asked on the thread: an engine that cannot be opened is retried
        # like one that dropped the stream.
        self.runtime = runtime
        self.redactor = redactor
        self.container = container
        self.pattern = LogPatternWatcher(pattern) if pattern else None
        # A `kind = "log"` progress source reads the same stream: logs are followed once.
        self.progress = progress if progress is not None and progress.reads_logs else None
        self.recent: deque[str] = deque(maxlen=_KEPT_LINES)
        self.lines = 0  # lines kept so far
        self._error: tuple[str | None, int] = (None, 0)  # the newest error line, its number
        self.stop_event = StopSignal()  # closes the followed stream itself: no watcher thread
        self.thread = threading.Thread(target=self._run, name=f"logs-{container}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                logs = self.runtime().follow_logs(self.container, self.stop_event, tail=200)
                for raw in logs:
                    line = sanitize_log_line(raw, self.redactor)
                    self.recent.append(line)
                    self.lines += 1
                    if _is_error(line):
                        self._error = (line[:300], self.lines)
                    if self.pattern is not None:
                        self.pattern.feed(line)
                    if self.progress is not None:
                        self.progress.feed_line(line)
            except Exception:
                pass  # the daemon restarted or the container went away; retry below
            self.stop_event.wait(1.0)

    @property
    def pattern_seen(self) -> bool | None:
        return self.pattern.seen if self.pattern is not None else None

    def last_error(self) -> str | None:
        """The newest kept line that reads like an error (each line is looked at once, as it
        arrives: this is asked at every full tick, a failure's reason)."""
        error, at = self._error
        return error if error is not None and self.lines - at < _KEPT_LINES else None

    def stop(self) -> None:
        self.stop_event.set()


class ErrorTail:
    """The last lines of a container's logs, fetched on a thread of its own when `last_error()`
    is asked (a failure's reason), again at most every ERROR_TAIL_REFRESH_SECONDS while it is
    asked; nothing followed, no thread in between."""

    pattern_seen = None  # no log pattern: nothing to see

    def __init__(
        self,
        runtime: Callable[[], Runtime],
        redactor: Redactor,
        container: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.redactor = redactor
        self.container = container
        self.clock = clock
        self.fetches = 0  # tails fetched (for tests)
        self._lock = threading.Lock()
        self._error: str | None = None
        self._fetched_at: float | None = None
        self._fetching: threading.Thread | None = None
        self._waited = False  # the first ask waited for its fetch
        self._stopped = False

    def last_error(self) -> str | None:
        """The newest error-like line of the last lines, as last fetched; asking starts a fetch
        when the last is old. The first ask waits ERROR_TAIL_FIRST_WAIT_SECONDS for its fetch,
        no later one waits."""
        with self._lock:
            fetching = self._fetching
            due = self._fetched_at is None or (
                self.clock() - self._fetched_at >= ERROR_TAIL_REFRESH_SECONDS
            )
            if fetching is None and due and not self._stopped:
                fetching = self._fetching = threading.Thread(
                    target=self._fetch, name=f"logs-tail-{self.container}", daemon=True
                )
                fetching.start()
            wait = fetching is not None and not self._waited  # once: a hung engine's cost
            self._waited = self._waited or wait
        if wait and fetching is not None:
            fetching.join(ERROR_TAIL_FIRST_WAIT_SECONDS)
        return self._error

    def _fetch(self) -> None:
        try:
            raw = self.runtime().logs(self.container, tail=_KEPT_LINES)
            error = _newest_error(sanitize_log_line(line, self.redactor) for line in raw)
        except Exception:  # Docker down or the container gone: no line to tell, asked again later
            error = self._error
        with self._lock:
            self._error = error
            self._fetched_at = self.clock()
            self.fetches += 1
            self._fetching = None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
