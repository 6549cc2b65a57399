"""Say where a stopping agent is stuck.

SIGTERM asks the loop to finish its tick and stop; systemd kills the agent after TimeoutStopSec
(30 s). When the stop takes longer than a few seconds, the log gets the main thread's stack once
(a part that hangs in the tick, a close that waits), so the operator reads why instead of
guessing. A thread started with the agent, not in the signal handler: a handler that starts a
thread takes the interpreter's thread locks, which the interrupted main thread may hold.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable

STOP_GRACE_SECONDS = 8.0


def thread_stack(thread: threading.Thread) -> str:
    frame = sys._current_frames().get(thread.ident or 0)
    return "".join(traceback.format_stack(frame)) if frame is not None else "(not running)\n"


def main_thread_stack() -> str:
    return "the main thread is at:\n" + thread_stack(threading.main_thread())


class StopWatch:
    """Waits for `stopping`; if `stopped` is not set `grace` seconds later, logs where the stop
    is stuck: `where()`, by default the main thread's stack (a fleet names its services')."""

    def __init__(
        self,
        stopping: threading.Event,
        log: Callable[[str], None],
        grace: float = STOP_GRACE_SECONDS,
        where: Callable[[], str] = main_thread_stack,
    ) -> None:
        self.stopping = stopping
        self.stopped = threading.Event()
        self.log = log
        self.grace = grace
        self.where = where
        self._thread = threading.Thread(target=self._watch, name="stop-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(1.0):
            if self.stopped.is_set():
                return
        if not self.stopped.wait(self.grace):
            self.log(f"Still stopping {self.grace:.0f} s after the signal; {self.where()}")

    def done(self) -> None:
        self.stopped.set()
