"""One small thread per part the agent reads, so a part that hangs degrades only what needs it.

A hung Docker daemon must not stop height sampling, the proxy's reconciliation or the post-switch
watch; a hung database must not stop container checks. So each part (Docker, each progress source,
each colour's HTTP checks, the proxy) is read by its own `Sampler`: the agent's tick asks every
sampler for a new reading, waits a short budget, and composes from the latest readings and their
ages. A sampler never overlaps itself — a request that arrives while a read is still in flight is
folded into the next read — so a stalled part holds one thread, not a growing pile of them.

Each `Sampled` keeps the last value that was read, when the part last answered, since when it has
not (a read in flight or failing), and the last error: a stale part is shown as stale, never fresh.

Waking a thread costs this host's kernel and interpreter some 60–100 µs of CPU, more than most
reads here (issue 23: an idle agent of 20 services woke ~120 threads a second). So a round wakes
the agent once, when its last part has answered (`sample_round`'s `_Round`), not once per part;
and a part that can answer from what it already knows, without any I/O, does so on the asking
thread (`kept`: a container's inspect the engine's events vouch for), waking nobody. A part that
answers over a local socket in well under a millisecond may be read on the asking thread too
(`quick`: the nginx admin's colour, asked every second; a colour's HTTP checks), bounded by a
small fraction of a tick (QUICK_READ_SECONDS);
one that does not answer in time is handed to the thread, which reads it with its full timeout,
and is not asked on the asking thread again for `QUICK_BACKOFF_SECONDS` — so a hung part costs
a tick that fraction once, not every tick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from console.core.model import PartReading

T = TypeVar("T")
_ROUNDS_KEPT = 4  # rounds a sampler keeps telling: its asker waits a fraction of a tick
# A quick read's bound on the asking thread: a fraction of a tick, where a local socket's answer
# (nginx's admin, a colour's health) takes a fraction of a millisecond; past it the thread reads.
QUICK_READ_SECONDS = 0.1
QUICK_BACKOFF_SECONDS = 30.0  # after a quick read that did not answer: the thread reads


@dataclass(frozen=True, slots=True)
class Sampled(Generic[T]):
    """The latest of one sampler: what it read last, and when the part last answered."""

    value: T | None  # the last value read successfully (kept while the part does not answer)
    answered_at: float  # wall clock of the last successful read; 0 = never
    waiting_since: float | None  # a read in flight or failing since then; None = answered
    error: str | None  # the last read's failure, one sentence; None after a success
    round: int  # completed reads, successful or not: tells a new reading from the last one

    @property
    def answered(self) -> bool:
        return self.answered_at > 0 and self.waiting_since is None


class Sampler(Generic[T]):
    """Reads one part on its own daemon thread whenever `request()` is called."""

    def __init__(
        self,
        part: str,
        label: str,
        read: Callable[[], T],
        explain: Callable[[Exception], str] = str,
        clock: Callable[[], float] = time.time,
        stale_after: float = 3.0,
        kept: Callable[[], tuple[bool, T | None]] | None = None,
        quick: Callable[[], tuple[bool, T | None]] | None = None,
    ) -> None:
        """`kept`: on the asking thread, (True, value) when the part's answer is known without
        any I/O that could wait (it must never block); (False, None) to read on the thread.
        `quick`: the same, allowed a read bounded by a small fraction of a tick; (False, None)
        also when it did not answer in time (the thread reads it then, and for a while)."""
        self.part = part
        self._kept = kept
        self._quick = quick
        self._quick_after = 0.0  # monotonic: no quick read before (one did not answer)
        self._rounds: list[_Round] = []  # rounds waiting for this sampler's next reading
        self.stale_after = stale_after
        self.label = label
        self._read = read
        self._explain = explain
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._reading: Sampled[T] = Sampled(None, 0.0, None, None, 0)
        self._thread = threading.Thread(target=self._run, name=f"sample-{part}", daemon=True)
        self._thread.start()

    # ── the agent's side ──
    def request(self, round_: _Round | None = None) -> int:
        """Ask for a fresh reading; returns the round to wait past (see `wait_past`). `round_`
        is told once a reading past it exists."""
        if self._quick is not None and self._read_quickly():
            if round_ is not None:
                round_.one_done()
            return self._reading.round - 1
        with self._changed:
            was = self._reading
            if self._kept is not None and was.waiting_since is None:
                try:
                    known, value = self._kept()
                except Exception:  # it could not tell: the thread reads, and says why
                    known, value = False, None
                if known:  # answered here, as the thread would have: nobody to wake
                    self._reading = Sampled(value, self._clock(), None, None, was.round + 1)
                    self._changed.notify_all()
                    if round_ is not None:
                        round_.one_done()
                    return was.round
            if round_ is not None:
                # A hung read never tells its rounds; their askers stopped waiting long ago.
                self._rounds = [*self._rounds[-(_ROUNDS_KEPT - 1) :], round_]
        self._wake.set()
        return was.round

    def _read_quickly(self) -> bool:
        """The `quick` read on the asking thread, outside the lock (it may wait a little); True
        when it answered and is now the reading. Only while the thread is not reading or failing:
        a part it is still waiting for is not asked twice."""
        assert self._quick is not None
        with self._changed:
            if self._reading.waiting_since is not None or time.monotonic() < self._quick_after:
                return False
        try:
            known, value = self._quick()
        except Exception:  # it could not tell: the thread reads, and says why
            known, value = False, None
        if not known:
            self._quick_after = time.monotonic() + QUICK_BACKOFF_SECONDS
            return False
        with self._changed:
            self._reading = Sampled(value, self._clock(), None, None, self._reading.round + 1)
            self._read_done()
        return True

    def wait_past(self, round_: int, deadline: float) -> bool:
        """Wait until a read that completes after `round_` exists, or `deadline` (monotonic)."""
        with self._changed:
            while self._reading.round <= round_:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def latest(self) -> Sampled[T]:
        with self._changed:
            return self._reading

    def published(self) -> PartReading:
        """The reading's ages and error, as the store publishes them."""
        reading = self.latest()
        return PartReading(
            self.part,
            self.label,
            reading.answered_at,
            reading.waiting_since,
            reading.error,
            self.stale_after,
        )

    def stale(self, now: float) -> bool:
        return self.published().stale(now)

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()  # a thread blocked inside a hung read dies with the process (daemon)

    # ── the thread ──
    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            started = self._clock()
            with self._changed:
                was = self._reading
                if was.waiting_since is None:  # built, not `replace`d: this runs every second
                    self._reading = Sampled(
                        was.value, was.answered_at, started, was.error, was.round
                    )
            try:
                value = self._read()
            except Exception as exc:  # every failure is a reading, never the thread's end
                error = self._explain(exc)
                with self._changed:
                    was = self._reading
                    self._reading = Sampled(
                        was.value, was.answered_at, was.waiting_since, error, was.round + 1
                    )
                    self._read_done()
                continue
            with self._changed:
                self._reading = Sampled(value, self._clock(), None, None, self._reading.round + 1)
                self._read_done()

    def _read_done(self) -> None:
        """Under `_changed`: wake whoever waits for this reading."""
        self._changed.notify_all()
        rounds, self._rounds = self._rounds, []
        for round_ in rounds:
            round_.one_done()


class _Round:
    """One `sample_round`: set once each of its parts has a reading past the round's start."""

    def __init__(self, parts: int) -> None:
        self._left = parts
        self._lock = threading.Lock()
        self.done = threading.Event()
        if parts <= 0:
            self.done.set()

    def one_done(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.done.set()


def sample_round(samplers: Sequence[Sampler[Any]], budget_seconds: float) -> None:
    """Request a reading from each sampler and wait up to `budget_seconds` for all of them; a
    sampler stuck in a hung read simply keeps its previous reading. The asking thread wakes
    once: when the last of them answered, or at the deadline."""
    deadline = time.monotonic() + budget_seconds
    round_ = _Round(len(samplers))
    for sampler in samplers:
        sampler.request(round_)
    round_.done.wait(max(0.0, deadline - time.monotonic()))
