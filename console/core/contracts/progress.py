"""The progress-source Protocol: where a height (and, for some services, a chain head) comes from.

The core owns this shape; console/drivers/progress/ implements one class per `kind` and builds
them from the configuration through one table. The agent only ever sees `ProgressSource`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SourceUnavailable(Exception):
    """A reading failed this time; str() is one redacted sentence naming the source and what to
    check. Never carries a URL's password, a header's value or a traceback."""


class SourceUnreachable(SourceUnavailable):
    """Nothing answered at all (refused, timed out, no route): the service may simply not run."""


@dataclass(frozen=True)
class Reading:
    """One reading. `height` None = "no height yet" (the service has not started: an empty table,
    a JSON null, an absent series). `head` is the chain head the same answer reported, if the
    source is configured to take one (graph-node's chainHeadBlock, SQD's chain height)."""

    height: int | None
    head: int | None = None


class ProgressSource(Protocol):
    label: str  # "blue's progress endpoint": the subject of every sentence about this source
    # True for sources fed with the colour's container log lines (`feed_line`) instead of asking.
    reads_logs: bool

    def read(self) -> Reading:
        """Read once; raise SourceUnavailable with a sentence when the reading fails."""
        ...

    def feed_line(self, line: str) -> None:
        """A sanitized container log line (only called when `reads_logs`)."""
        ...

    def reset(self) -> None:
        """Forget what was learned from a previous container instance (a new deployment)."""
        ...

    def close(self) -> None: ...
