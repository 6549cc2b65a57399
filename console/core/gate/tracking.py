"""Catch-up arithmetic: how far behind a colour is, how fast it closes the gap, when it is done.

The old monitor divided the lag by the indexing speed, ignoring that the chain keeps growing while
the indexer catches up; its ETA was always too optimistic. Here the ETA divides the lag by the
*closing* speed (indexing speed minus the head's own growth), and says "not closing" (None) when
the indexer is not gaining on the head at all.

A colour within `max_lag` of the head is *at the head*: it follows the chain, and has no ETA and
no closing speed (at the head both speeds are equal, and lag / ~0 gave ETAs of hours). It stays at
the head until its lag has been above `max_lag` for longer than `leave_after_seconds`, so a burst
of blocks, or a reading taken just before the indexer's next poll, does not make it "catching up".

Pure: no I/O, no clock. Samples carry their own time; `stalled` takes `now` as an argument.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from console.core.model import Sample

# Milestone notifications: if a jump crosses many multiples at once (tiny `every_blocks`, or the
# first reading after a long gap), report only the most recent few rather than flooding a channel.
MAX_MILESTONES_PER_CALL = 5


def _slope(points: Iterable[tuple[float, int]]) -> float | None:
    """Least-squares slope (per second) of (time, value) points; None without ≥2 distinct times.

    Times are taken relative to the first point: squaring epoch seconds (~1.7e9) would throw away
    the precision the slope needs.
    """
    pts = list(points)
    if len(pts) < 2:
        return None
    t0 = pts[0][0]
    xs = [t - t0 for t, _ in pts]
    ys = [float(v) for _, v in pts]
    n = len(pts)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    var_x = sum((x - mean_x) ** 2 for x in xs)
    if var_x <= 0.0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return cov / var_x


class CatchupTracker:
    """Feed it one colour's samples (`add`); read height, lag, speeds, ETA, progress, stall state.

    Memory is bounded: only samples inside the speed window are kept (and at most `max_samples`).
    Samples older than the newest one already added are ignored (a clock step back or a late
    reading must not bend the speed).
    """

    def __init__(
        self,
        window_seconds: float = 60.0,
        stall_seconds: float = 60.0,
        start_height: int | None = None,
        max_samples: int = 4096,
        max_lag: int = 0,
        leave_after_seconds: float = 0.0,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be above 0")
        self.max_lag = max_lag
        self.leave_after_seconds = leave_after_seconds
        self._at_head = False
        self._above_since: float | None = None  # when the lag went above max_lag at the head
        self.window_seconds = window_seconds
        self.stall_seconds = stall_seconds
        self.start_height = start_height
        self._samples: deque[Sample] = deque(maxlen=max_samples)
        self._height: int | None = None
        self._head: int | None = None
        self._last_at: float | None = None
        self._first_height_at: float | None = None
        # When the height last went up (or was first seen): what `stalled` measures from.
        self._last_increase_at: float | None = None
        self._milestone_mark: int | None = None

    # ── input ──
    def add(self, sample: Sample) -> None:
        if self._last_at is not None and sample.at < self._last_at:
            return
        self._last_at = sample.at
        self._samples.append(sample)
        while self._samples and self._samples[0].at < sample.at - self.window_seconds:
            self._samples.popleft()
        if sample.head is not None:
            self._head = sample.head
        if sample.height is not None:
            self._note_height(sample.height, sample.at)
        self._follow_head(sample.at)

    def _follow_head(self, at: float) -> None:
        lag = self.lag
        if lag is None:
            return
        if lag <= self.max_lag:
            self._at_head = True
            self._above_since = None
        elif self._at_head:
            if self._above_since is None:
                self._above_since = at
            if at - self._above_since >= self.leave_after_seconds:
                self._at_head = False

    def _note_height(self, height: int, at: float) -> None:
        if self._height is None:
            self._first_height_at = at
            self._last_increase_at = at
            if self.start_height is None:
                self.start_height = height
        elif height > self._height:
            self._last_increase_at = at
        if self._milestone_mark is None or height < self._milestone_mark:
            # First reading, or the height went backwards (database reset): milestones count
            # from here, so a restart does not re-announce the ones already passed.
            self._milestone_mark = height
        self._height = height

    # ── derived values ──
    @property
    def height(self) -> int | None:
        """The latest known indexed height."""
        return self._height

    @property
    def head(self) -> int | None:
        """The latest known chain head."""
        return self._head

    @property
    def lag(self) -> int | None:
        """Blocks behind the head; None until both are known; below 0 if the head reading trails."""
        if self._height is None or self._head is None:
            return None
        return self._head - self._height

    @property
    def at_head(self) -> bool:
        """Following the head: within max_lag, or above it for less than leave_after_seconds."""
        return self._at_head

    @property
    def speed(self) -> float | None:
        """Indexing rate in blocks/s over the window (least-squares, missing readings skipped)."""
        return _slope((s.at, s.height) for s in self._samples if s.height is not None)

    @property
    def head_speed(self) -> float | None:
        """The chain's growth rate in blocks/s over the window."""
        return _slope((s.at, s.head) for s in self._samples if s.head is not None)

    @property
    def closing_speed(self) -> float | None:
        """How fast the lag shrinks, blocks/s: indexing speed minus the head's growth; None at
        the head (there is no gap to close)."""
        if self._at_head:
            return None
        speed = self.speed
        head_speed = self.head_speed
        if speed is None or head_speed is None:
            return None
        return speed - head_speed

    @property
    def eta_seconds(self) -> float | None:
        """Seconds to catch up at the closing speed; None at the head or when not closing."""
        lag = self.lag
        if lag is None or self._at_head:
            return None
        if lag <= 0:
            return 0.0
        closing = self.closing_speed
        if closing is None or closing <= 0:
            return None
        return lag / closing

    @property
    def progress(self) -> float | None:
        """Fraction 0..1 of the way from the start height to the current head."""
        if self._height is None or self._head is None or self.start_height is None:
            return None
        total = self._head - self.start_height
        if total <= 0:
            return 1.0 if self._height >= self._head else 0.0
        done = (self._height - self.start_height) / total
        return min(1.0, max(0.0, done))

    def stalled(self, now: float) -> bool:
        """True when the height has not gone up for `stall_seconds` while still behind. A colour
        at the head is not stalled: when the chain pauses, so does it."""
        lag = self.lag
        if lag is None or lag <= 0 or self._at_head or self._last_increase_at is None:
            return False
        return now - self._last_increase_at >= self.stall_seconds

    def restart_stall_clock(self, now: float) -> None:
        """Count a stall from `now`: the height could not go up while the service was not running
        or could not be watched (a Docker daemon restart), so that time is no evidence of one."""
        if self._last_increase_at is not None:
            self._last_increase_at = now

    def seconds_since_progress(self, now: float) -> float | None:
        """How long since the height last went up (for 'stalled for 3 min' messages)."""
        if self._last_increase_at is None:
            return None
        return max(0.0, now - self._last_increase_at)

    def crossed_milestones(self, every_blocks: int) -> list[int]:
        """Multiples of `every_blocks` the height passed since the previous call (at most a few).

        Heights below the first one seen never count: a re-index that starts at 3.2 M does not
        announce 1 M, 2 M and 3 M.
        """
        if every_blocks <= 0 or self._height is None or self._milestone_mark is None:
            return []
        first = self._milestone_mark // every_blocks + 1
        last = self._height // every_blocks
        self._milestone_mark = self._height
        if last < first:
            return []
        first = max(first, last - MAX_MILESTONES_PER_CALL + 1)
        return [m * every_blocks for m in range(first, last + 1)]
