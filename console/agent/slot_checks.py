"""A colour's HTTP checks (health, the extra readiness checks, the smoke request), read on their
own sampler so a slow or hung service costs the agent's tick nothing but a stale result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from console.agent.replica_checks import ReplicaCheck, ReplicaRound, RoundResults
from console.agent.samplers import Sampler
from console.core.config.schema import Config
from console.core.config.sources import fill_url
from console.core.contracts.runtime import ReplicaSet
from console.core.model import Color
from console.drivers.checks import HttpChecker


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
        self.checker = HttpChecker(f"http://127.0.0.1:{slot.host_port}")
        self.check_urls = [
            (fill_url(c.url, slot.host_port, color, slot.container), c.expect_status)
            for c in self.readiness.checks
        ]
        self.replicas = replicas
        self.replica_round = ReplicaRound(self.readiness, self.check_urls)
        self._floor = 0  # check rounds up to this one were of a previous container
        self.sampler: Sampler[CheckResults] = Sampler(
            "checks", f"{color}'s HTTP checks", self._run, stale_after=stale_after
        )

    def _run(self) -> CheckResults:
        replicas = self.replicas()
        if replicas is not None:
            return of_round(self.replica_round.run(replicas))
        readiness = self.readiness
        health_ok, health_detail = self.checker.health(
            readiness.health_path, readiness.health_expect
        )
        checks = tuple(self.checker.check(url, status) for url, status in self.check_urls)
        smoke_ok: bool | None = None
        smoke_detail = ""
        if readiness.smoke_path:
            smoke_ok, smoke_detail = self.checker.smoke(
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
