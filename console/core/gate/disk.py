"""Will the disk last until the candidate has caught up? And is the re-index starving live?

A re-index grows its database for hours; if the disk fills before the ETA the deployment dies at
80 % and the live colour's database (often on the same disk) may go down with it. `DiskOutlook`
projects the free space at catch-up from the growth rate and the ETA; the gate condition
`free_disk_after_catchup` refuses a switch to a colour whose disk would be full.

`ContentionBaseline` remembers what the live colour looked like (p99, CPU share) while nothing
was syncing, so `contention_warning` can say when a syncing candidate makes it worse.

Pure: callers pass every reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.core.durations import duration_text
from console.core.measures.resources import size_text
from console.core.model import Condition

FREE_DISK_CONDITION = "free_disk_after_catchup"
# The live colour's p99 must grow by this factor *and* by this much before it reads as degraded:
# a 2 ms → 5 ms change is noise, a 40 ms → 400 ms one is users waiting.
LATENCY_FACTOR = 2.0
LATENCY_MIN_INCREASE_MS = 50.0
# The host is saturated when both colours together use this share of it, and the live colour's
# share fell by this factor from its baseline.
HOST_SATURATED_PERCENT = 90.0
CPU_SHARE_DROP_FACTOR = 0.5
_BASELINE_WEIGHT = 0.1  # each tick moves the baseline 10 % toward the newest reading


@dataclass(frozen=True, slots=True)
class DiskOutlook:
    """One colour's database disk: free now, growth, and the catch-up it has to last through."""

    free_bytes: int | None  # None = not measured yet
    growth_bps: float | None
    eta_seconds: float | None  # the candidate's catch-up ETA; None = caught up or not closing
    where: str  # "disk /var/lib/postgresql" or "budget 10.0 GiB"

    @property
    def full_in_seconds(self) -> float | None:
        if self.free_bytes is None or self.growth_bps is None or self.growth_bps <= 0:
            return None
        return max(0.0, self.free_bytes / self.growth_bps)

    @property
    def free_after_catchup(self) -> float | None:
        if self.free_bytes is None:
            return None
        if self.growth_bps is None or self.growth_bps <= 0 or not self.eta_seconds:
            return float(self.free_bytes)
        return self.free_bytes - self.growth_bps * self.eta_seconds

    @property
    def fills_before_caught_up(self) -> bool | None:
        """True when the disk is full now or will be before the ETA; None = cannot say."""
        if self.free_bytes is None:
            return None
        if self.free_bytes <= 0:
            return True
        if self.eta_seconds is None:
            return None
        full_in = self.full_in_seconds
        return full_in is not None and full_in < self.eta_seconds


def free_disk_condition(outlook: DiskOutlook) -> Condition:
    """The gate's `free_disk_after_catchup`: free space must remain once the catch-up is done."""
    name = FREE_DISK_CONDITION
    left = outlook.free_after_catchup
    if left is None:
        return Condition(name, False, f"{outlook.where}: not measured yet")
    if outlook.free_bytes is not None and outlook.free_bytes <= 0:
        return Condition(name, False, f"{outlook.where} is full")
    if left <= 0:
        full_in = duration_text(outlook.full_in_seconds)
        eta = duration_text(outlook.eta_seconds)
        return Condition(name, False, f"fills before caught up: full in {full_in}, ETA {eta}")
    return Condition(name, True, f"{size_text(left)} left after catch-up ({outlook.where})")


def disk_warning(color: str, outlook: DiskOutlook) -> str | None:
    """The sentence for the screen and the notification, or None when the disk lasts."""
    if not outlook.fills_before_caught_up:
        return None
    if outlook.free_bytes is not None and outlook.free_bytes <= 0:
        return f"{color}'s database {outlook.where} is full: the catch-up cannot finish."
    return (
        f"{color}'s database fills its {outlook.where} before caught up: full in "
        f"{duration_text(outlook.full_in_seconds)}, catch-up ETA "
        f"{duration_text(outlook.eta_seconds)}. Free space or raise the budget."
    )


def is_disk_warning(warning: str) -> bool:
    """disk_warning's sentences are the only ones about a colour's database."""
    return "'s database" in warning


@dataclass(frozen=True, slots=True)
class LiveReading:
    """What the live colour looked like at one tick."""

    p99_ms: float | None  # from the proxy's traffic figures; None where it cannot say
    cpu_percent: float | None  # share of the host


class ContentionBaseline:
    """The live colour's usual p99 and CPU share, learnt only while nothing is syncing."""

    def __init__(self) -> None:
        self.p99_ms: float | None = None
        self.cpu_percent: float | None = None

    def learn(self, reading: LiveReading) -> None:
        self.p99_ms = _moved(self.p99_ms, reading.p99_ms)
        self.cpu_percent = _moved(self.cpu_percent, reading.cpu_percent)

    def reset(self) -> None:
        self.p99_ms = None
        self.cpu_percent = None


def _moved(old: float | None, new: float | None) -> float | None:
    if new is None:
        return old
    if old is None:
        return new
    return old + _BASELINE_WEIGHT * (new - old)


def contention_warning(
    live: str,
    candidate: str,
    now: LiveReading,
    baseline: ContentionBaseline,
    candidate_cpu_percent: float | None,
) -> str | None:
    """Why the live colour is worse off while `candidate` syncs, or None. Called only while the
    candidate is syncing; a reading or baseline that is unknown never warns."""
    if now.p99_ms is not None and baseline.p99_ms is not None:
        worse = now.p99_ms - baseline.p99_ms
        if now.p99_ms >= baseline.p99_ms * LATENCY_FACTOR and worse >= LATENCY_MIN_INCREASE_MS:
            return (
                f"{live}'s p99 latency is {now.p99_ms:.0f} ms while {candidate} syncs (was "
                f"{baseline.p99_ms:.0f} ms): the re-index may be starving it; consider "
                "[image] cpus / memory limits for the candidate."
            )
    if (
        now.cpu_percent is not None
        and baseline.cpu_percent is not None
        and candidate_cpu_percent is not None
        and now.cpu_percent + candidate_cpu_percent >= HOST_SATURATED_PERCENT
        and now.cpu_percent <= baseline.cpu_percent * CPU_SHARE_DROP_FACTOR
    ):
        return (
            f"The host's CPU is saturated: {candidate} takes {candidate_cpu_percent:.0f} % and "
            f"{live}'s share fell to {now.cpu_percent:.0f} % (was {baseline.cpu_percent:.0f} %); "
            "consider an [image] cpus limit for the candidate."
        )
    return None
