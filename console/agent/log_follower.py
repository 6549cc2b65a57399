"""Follow one container's logs on a thread: feed the readiness log pattern and a `kind = "log"`
progress source, and keep the last lines (sanitized, redacted) to explain a failure.

Its own thread, so a Docker daemon that hangs stops only the log lines, never the agent's tick.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from console.core.contracts.progress import ProgressSource
from console.core.contracts.runtime import Runtime
from console.core.redact import Redactor, sanitize_log_line
from console.drivers.checks import LogPatternWatcher
from console.drivers.docker.streams import StopSignal

_ERROR_WORDS = ("ERROR", "error", "panic", "FATAL", "Traceback")
_KEPT_LINES = 50


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
                    if any(word in line for word in _ERROR_WORDS):
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
