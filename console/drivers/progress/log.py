"""`kind = "log"` (candidate only): the height from the colour's container log, the last line that
matches `pattern` (one capture group: `Processing block height (\\d+)`). Fed by the log follower
the agent already runs for the colour, so logs are streamed once, not twice. Thousands separators
(`12,345,600`, SubQuery) are accepted."""

from __future__ import annotations

import re
import threading

from console.core.contracts.progress import Reading, SourceUnavailable
from console.drivers.progress.base import BaseSource, Place
from console.drivers.progress.values import as_height

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


class LogProgress(BaseSource):
    reads_logs = True

    def __init__(self, place: Place, pattern: str) -> None:
        super().__init__(place)
        self.pattern = re.compile(pattern)
        self._lock = threading.Lock()  # fed by the log thread, read by the sampler
        self._last: str | None = None

    def feed_line(self, line: str) -> None:
        plain = _ANSI.sub("", line) if "\x1b" in line else line
        match = self.pattern.search(plain)
        if match is not None and match.group(1) is not None:
            with self._lock:
                self._last = match.group(1)

    def read(self) -> Reading:
        with self._lock:
            last = self._last
        if last is None:
            return Reading(None)  # no matching line yet
        try:
            return Reading(as_height(last, self.place.name, f"{self.place.key}.pattern"))
        except SourceUnavailable:
            raise SourceUnavailable(
                f"{self.place.name} matched {last[:40]!r}, not a height; make the capture group "
                f"of {self.place.key}.pattern take only the digits, e.g. (\\d[\\d,]*)."
            ) from None

    def reset(self) -> None:
        with self._lock:
            self._last = None
