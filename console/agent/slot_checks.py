"""A colour's HTTP checks (health, the extra readiness checks, the smoke request), read on their
own sampler so a slow or hung service costs the agent's tick nothing but a stale result.

A colour whose checks are plain requests to an address (its published port on 127.0.0.1, the
usual case) is checked on the asking thread first, each request bounded by QUICK_READ_SECONDS:
a local service answers in a fraction of a millisecond, and waking the sampler's thread for it
cost more than the check (issue 23's idle cost: two colours' checks at every full tick of every
service). A check that does not answer within the bound, a URL that needs a name looked up, a
proxy or TLS, and every Swarm colour's replicas go to the thread as before, which checks with
the full timeout; after such a miss only the thread checks for QUICK_BACKOFF_SECONDS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from console.agent.replica_checks import ReplicaCheck, ReplicaRound, RoundResults
from console.agent.samplers import QUICK_READ_SECONDS, Sampler
from console.core.config.schema import Config
from console.core.config.sources import fill_url
from console.core.contracts.runtime import ReplicaSet
from console.core.model import Color
from console.drivers.checks import HttpChecker, QuickMiss


@dataclass(frozen=True, slots=True)
class CheckResults:
    """One round of a colour's HTTP checks (health, extra checks, smoke request)."""

    health_ok: bool | None  # None: not checked (yet, or not for too long)
    health_detail: str
    checks: tuple[tuple[bool | None, str], ...]
    smoke_ok: bool | None
    smoke_detail: str
    # Each replica's round, on a runtime that runs several (replica_checks.py); None: one.
    replicas: tuple[ReplicaCheck, ...] | None = None


def of_round(done: RoundResults) -> CheckResults:
    """A round over every replica as the colour's check results."""
    return CheckResults(
        done.health_ok,
        done.health_detail,
        done.checks,
        done.smoke_ok,
        done.smoke_detail,
        done.checked,
    )


class SlotChecks:
    def __init__(
        self,
        config: Config,
        color: Color,
        stale_after: float,
        replicas: Callable[[], ReplicaSet | None] = lambda: None,
    ) -> None:
        """`replicas`: the colour's replicas as last read (None: one container, checked at
        127.0.0.1:host_port); each then is checked where it answers."""
        slot = config.slot(color)
        self.readiness = config.readiness
        base = f"http://127.0.0.1:{slot.host_port}"
        self.checker = HttpChecker(base)
        self.quick_checker = HttpChecker(base, quick_within=QUICK_READ_SECONDS)
        self.check_urls = [
            (fill_url(c.url, slot.host_port, color, slot.container), c.expect_status)
            for c in self.readiness.checks
        ]
        self.replicas = replicas
        self.replica_round = ReplicaRound(self.readiness, self.check_urls)
        self._floor = 0  # check rounds up to this one were of a previous container
        self.sampler: Sampler[CheckResults] = Sampler(
            "checks",
            f"{color}'s HTTP checks",
            self._run,
            stale_after=stale_after,
            quick=self._quickly,
        )

    def _run(self) -> CheckResults:
        replicas = self.replicas()
        if replicas is not None:
            return of_round(self.replica_round.run(replicas))
        return self._checked_by(self.checker)

    def _quickly(self) -> tuple[bool, CheckResults | None]:
        """The checks on the asking thread, each request within QUICK_READ_SECONDS; (False,
        None) hands them to the thread (one did not answer in time, or cannot be sent so)."""
        if self.replicas() is not None:
            return False, None
        try:
            return True, self._checked_by(self.quick_checker)
        except QuickMiss:
            return False, None

    def _checked_by(self, checker: HttpChecker) -> CheckResults:
        readiness = self.readiness
        health_ok, health_detail = checker.health(readiness.health_path, readiness.health_expect)
        checks = tuple(checker.check(url, status) for url, status in self.check_urls)
        smoke_ok: bool | None = None
        smoke_detail = ""
        if readiness.smoke_path:
            smoke_ok, smoke_detail = checker.smoke(
                readiness.smoke_method, readiness.smoke_path, readiness.smoke_body
            )
        return CheckResults(health_ok, health_detail, checks, smoke_ok, smoke_detail)

    def forget_previous(self) -> None:
        """A new container: rounds read so far were of the previous one (its health)."""
        self._floor = self.sampler.latest().round

    def results(self, now: float) -> CheckResults:
        """The latest HTTP checks; a round that has not answered for too long counts as
        not checked (never as the last, possibly passing, result)."""
        latest = self.sampler.latest()
        results = latest.value if latest.round > self._floor else None
        if results is not None and not self.sampler.stale(now):
            return results
        detail = "not checked yet" if results is None else self.sampler.published().describe(now)
        return CheckResults(
            None, detail, tuple((None, detail) for _ in self.check_urls), None, detail
        )
