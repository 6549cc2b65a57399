"""The overview's reads: a long-lived thread per service, its newest answer kept for the next draw.

Each service's thread reads its status and its new events, keeps the answer, waits the poll
interval and reads again; so a service whose store hangs holds only its own thread, and the others
go on answering. The threads are daemons, not Textual workers: a worker's thread is joined when the
program ends, so one read that never returns kept `q` from ever getting the operator's shell back.

Nothing happens on the event loop per read: the overview takes every service's newest answer once
per redraw (`take`). Starting a thread, a timer and a message for each read of each service — 60
hand-offs a second at 20 services — put the overview's slowest key presses behind them under a log
flood: `Thread.start` waits until the new thread holds the GIL, which the flood's threads share.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from console.core.model import Status
from console.core.service import Console


@dataclasses.dataclass(frozen=True)
class Answer:
    """One read: the status (or why there is none), the newest drift seen and the last event id."""

    status: Status | None
    error: str | None
    drift_at: float | None
    last_event: int


class ServiceReader:
    """Reads one service every `poll_seconds` after its last answer, on its own daemon thread."""

    def __init__(self, name: str, console: Console, poll_seconds: float) -> None:
        self.name = name
        self._console = console
        self._poll_seconds = poll_seconds
        # Monotonic time the read in flight started; None between reads. Written by the thread
        # only; the overview reads it to say how long a service has not answered.
        self.asked_at: float | None = None
        self._answer: Answer | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_event = 0
        self._thread = threading.Thread(target=self._run, name=f"read {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """The thread ends after the read in flight (a hung one is simply left behind)."""
        self._stop.set()

    def take(self) -> Answer | None:
        """The newest answer not taken yet, or None."""
        with self._lock:
            answer, self._answer = self._answer, None
        return answer

    def _run(self) -> None:
        while not self._stop.is_set():
            self.asked_at = time.monotonic()
            answer = self._read()
            with self._lock:
                untaken = self._answer
                if untaken is not None and untaken.drift_at and answer.drift_at is None:
                    # A drift seen by a read nobody took yet must not vanish with the next one.
                    answer = dataclasses.replace(answer, drift_at=untaken.drift_at)
                self._answer = answer
            self.asked_at = None
            self._stop.wait(self._poll_seconds)

    def _read(self) -> Answer:
        try:
            status = self._console.status()
            events = self._console.events(after_id=self._last_event)
        except Exception as exc:  # one service's failure is its row's news, never the app's
            detail = str(exc) or type(exc).__name__
            return Answer(None, f"Cannot read its status: {detail}", None, self._last_event)
        drifts = [event.at for event in events if event.kind == "drift"]
        self._last_event = max((event.id for event in events), default=self._last_event)
        return Answer(status, None, max(drifts, default=None), self._last_event)
