"""The readiness gate: may this colour take traffic?

A re-indexing service answers `/health` 200 from startup, hours before it can serve, so health is
one condition among several and never readiness on its own. For such a service (catch-up on) the
lag condition is always present and must *hold* for `hold_seconds` on fresh samples: one lucky or
old reading is not enough. Extra readiness checks (`/ready` flags, often sticky) add to it, never
replace it. A service that does not re-index is ready on health, smoke, log pattern and checks,
held for `min_ready_seconds`.

Once ready, a colour leaves ready only on evidence that lasts: a condition that fails must keep
failing for `leave_after_seconds` and over `LEAVE_AFTER_READINGS` evaluations in a row. Meanwhile
the colour stays ready and the condition reads as met "within the grace", with what was seen. One
late reading, a burst of blocks or an indexer polling a moment after its twin is not a reason to
refuse a switch.

Pure: the caller supplies every observation and the time; the gate keeps only the "held since"
state between evaluations, so one gate object is used per colour per deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from console.core.config.schema import ReadinessConfig
from console.core.gate.disk import DiskOutlook, free_disk_condition
from console.core.measures.parity import ParityReport, summary
from console.core.model import Condition

# A sample older than this many sample intervals is stale: the sampler has stopped or the source is
# unreachable, and what was true then says nothing about now.
STALE_AFTER_INTERVALS = 3.0
# A ready colour leaves ready only after a failure seen in this many evaluations in a row (and
# lasting leave_after_seconds): never on one reading.
LEAVE_AFTER_READINGS = 3
REPLICAS = "replicas"  # the condition of a colour of several replicas: as many run as wanted


@dataclass(frozen=True)
class GateInputs:
    """Everything observed about the candidate at `now`. None means "not observed (yet)"."""

    now: float
    lag: int | None
    sample_at: float | None  # when `lag` was measured
    log_pattern_seen: bool | None
    health_ok: bool | None
    smoke_ok: bool | None
    smoke_detail: str
    height: int | None
    live_height: int | None
    # True when there is nothing to be behind: the candidate is itself the live colour, or no
    # colour is live yet (first deployment).
    is_live_candidate: bool
    health_detail: str = ""
    # One (ok, detail) per configured [[readiness.checks]], in order; ok None = not checked yet.
    checks: tuple[tuple[bool | None, str], ...] = ()
    # The colour's database disk, when configured ([slots.X] disk_path / disk_budget_bytes).
    disk: DiskOutlook | None = None
    parity: ParityReport | None = None  # the latest comparison of both colours at a pinned height
    live_sample_at: float | None = None  # when `live_height` was read
    head_speed: float | None = None  # blocks/s the head grows: how far two readings may differ
    # A colour of several replicas (a Swarm service): (as many run as wanted, e.g. "2 of 3
    # replicas running (node w2 is down)"); None = one container.
    replicas: tuple[bool, str] | None = None


@dataclass(frozen=True)
class GateResult:
    ready: bool
    conditions: tuple[Condition, ...]
    met_since: float | None  # when every condition was first seen met, without interruption


def _seconds(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


class ReadinessGate:
    """Evaluates the configured conditions; remembers since when the lag has been low enough."""

    def __init__(self, config: ReadinessConfig, catchup: bool = True) -> None:
        self.config = config
        self.catchup = catchup
        self._lag_ok_since: float | None = None
        self._met_since: float | None = None
        self._others_met_since: float | None = None
        self._failing_since: float | None = None  # a ready gate's first failing evaluation
        self._failing_readings = 0

    @property
    def lag_held_since(self) -> float | None:
        """Since when the lag has stayed ≤ max_lag on fresh samples (None = not currently)."""
        return self._lag_ok_since

    def reset(self) -> None:
        """Forget the hold, e.g. when the candidate container restarts."""
        self._lag_ok_since = None
        self._met_since = None
        self._others_met_since = None
        self._failing_since = None
        self._failing_readings = 0

    def evaluate(self, inputs: GateInputs) -> GateResult:
        cfg = self.config
        conditions = [self._lag_condition(inputs)] if self.catchup else []
        if cfg.log_pattern:
            conditions.append(_log_condition(cfg.log_pattern, inputs.log_pattern_seen))
        if cfg.health_path:
            name = f"health {cfg.health_path}"
            conditions.append(_check_condition(name, inputs.health_ok, inputs.health_detail))
        if inputs.replicas is not None:
            conditions.append(Condition(REPLICAS, *inputs.replicas))
        if cfg.smoke_path:
            name = f"smoke {cfg.smoke_method} {cfg.smoke_path}"
            conditions.append(_check_condition(name, inputs.smoke_ok, inputs.smoke_detail))
        for index, check in enumerate(cfg.checks):
            ok, detail = inputs.checks[index] if index < len(inputs.checks) else (None, "")
            conditions.append(_check_condition(check_name(check.name, check.url), ok, detail))
        if cfg.not_behind_live and self.catchup:
            conditions.append(_not_behind_live(inputs, cfg.sample_interval_seconds))
        if inputs.disk is not None:
            conditions.append(free_disk_condition(inputs.disk))
        if cfg.parity_required:
            conditions.append(_parity(inputs, STALE_AFTER_INTERVALS * cfg.parity_interval_seconds))
        conditions = self._with_grace(inputs.now, conditions)
        if cfg.min_ready_seconds > 0:
            conditions.append(self._held_condition(inputs.now, all(c.met for c in conditions)))
        ready = all(c.met for c in conditions)
        if not ready:
            self._met_since = None
        elif self._met_since is None:
            self._met_since = inputs.now
        return GateResult(ready=ready, conditions=tuple(conditions), met_since=self._met_since)

    def _with_grace(self, now: float, conditions: list[Condition]) -> list[Condition]:
        """A ready gate whose conditions fail keeps them as met until the failure has lasted
        `leave_after_seconds` over `LEAVE_AFTER_READINGS` evaluations; then it leaves ready."""
        if all(c.met for c in conditions):
            self._failing_since = None
            self._failing_readings = 0
            return conditions
        if self._met_since is None:  # not ready: nothing to leave
            return conditions
        if self._failing_since is None:
            self._failing_since = now
        self._failing_readings += 1
        failing_for = now - self._failing_since
        # A replica the scheduler no longer runs is a fact, not a reading that may flap.
        grace = 0.0 if _lost_replica(conditions) else self.config.leave_after_seconds
        lasted = self._failing_readings >= LEAVE_AFTER_READINGS and failing_for >= grace
        if grace <= 0 or lasted:
            self._failing_since = None
            self._failing_readings = 0
            if self.catchup and not conditions[0].met:  # the lag itself failed:
                self._lag_ok_since = None  # the hold starts again from the next low-lag sample
            return [
                c if c.met else replace(c, detail=f"{c.detail}, for {failing_for:.1f} s")
                for c in conditions
            ]
        return [c if c.met else _within_grace(c, failing_for, grace) for c in conditions]

    def _held_condition(self, now: float, others_met: bool) -> Condition:
        """The colour must *stay* passing: a health check that flaps restarts the count."""
        need = self.config.min_ready_seconds
        name = f"ready held {_seconds(need)} s"
        if not others_met:
            self._others_met_since = None
            return Condition(name, False, "waiting for the other conditions")
        if self._others_met_since is None:
            self._others_met_since = now
        held = max(0.0, now - self._others_met_since)
        if held >= need:
            return Condition(name, True, f"held {held:.1f} s")
        return Condition(name, False, f"held {held:.1f} s of {_seconds(need)} s")

    def _lag_condition(self, inputs: GateInputs) -> Condition:
        cfg = self.config
        name = f"lag ≤ {cfg.max_lag} held {_seconds(cfg.hold_seconds)} s"
        stale_after = STALE_AFTER_INTERVALS * cfg.sample_interval_seconds
        if inputs.sample_at is None or inputs.lag is None:
            self._lag_ok_since = None
            return Condition(name, False, "no height sample yet")
        age = inputs.now - inputs.sample_at
        if age > stale_after:
            if self._met_since is None:
                self._lag_ok_since = None
            return Condition(name, False, f"last sample {_seconds(round(age, 1))} s old (stale)")
        if inputs.lag > cfg.max_lag:
            if self._met_since is None:  # a ready gate keeps its hold through the grace
                self._lag_ok_since = None
            return Condition(name, False, f"lag {inputs.lag}")
        if self._lag_ok_since is None:
            # The hold starts when the low lag was observed, not when we happened to evaluate it.
            self._lag_ok_since = min(inputs.sample_at, inputs.now)
        held = max(0.0, inputs.now - self._lag_ok_since)
        if held >= cfg.hold_seconds:
            return Condition(name, True, f"lag {inputs.lag}, held {held:.1f} s")
        return Condition(name, False, f"held {held:.1f} s of {_seconds(cfg.hold_seconds)} s")


def _log_condition(pattern: str, seen: bool | None) -> Condition:
    name = f"log: {pattern}"
    if seen:
        return Condition(name, True, "seen")
    return Condition(name, False, "not seen yet")


def _check_condition(name: str, ok: bool | None, detail: str) -> Condition:
    if ok is None:
        return Condition(name, False, detail or "not checked yet")
    return Condition(name, ok, detail or ("ok" if ok else "failed"))


def _lost_replica(conditions: list[Condition]) -> bool:
    return any(c.name == REPLICAS and not c.met for c in conditions)


def _within_grace(condition: Condition, failing_for: float, grace: float) -> Condition:
    detail = f"{condition.detail}; within the {_seconds(grace)} s grace ({failing_for:.1f} s)"
    return Condition(condition.name, True, detail)


def live_allowance(inputs: GateInputs, sample_interval: float) -> int:
    """How many blocks a colour following the head may trail the live one by without being
    behind: what the head grows in the time between the two readings plus one sample interval.
    Both indexers follow the same head, each polling at its own moment, so at a block a second
    one of them is a block ahead about half the time; that is sampling order, not a lag."""
    if inputs.head_speed is None or inputs.head_speed <= 0:
        return 0
    skew = 0.0
    if inputs.sample_at is not None and inputs.live_sample_at is not None:
        skew = abs(inputs.sample_at - inputs.live_sample_at)
    # Rounded, not ceiled: a slope of 1.02 b/s is a block a second, one block of allowance.
    return max(1, round(inputs.head_speed * (skew + sample_interval)))


def _not_behind_live(inputs: GateInputs, sample_interval: float) -> Condition:
    name = "not behind live"
    if inputs.is_live_candidate:
        return Condition(name, True, "nothing live to be behind")
    if inputs.height is None:
        return Condition(name, False, "height unknown")
    if inputs.live_height is None:
        return Condition(name, False, "live height unknown")
    behind = inputs.live_height - inputs.height
    allowance = live_allowance(inputs, sample_interval)
    if behind > allowance:
        return Condition(
            name, False, f"{behind} behind live ({inputs.height} < {inputs.live_height})"
        )
    if behind > 0:
        return Condition(
            name,
            True,
            f"height {inputs.height}, live {inputs.live_height}: within the head's "
            f"{allowance} block(s) between readings",
        )
    return Condition(name, True, f"height {inputs.height} ≥ live {inputs.live_height}")


def _parity(inputs: GateInputs, stale_after: float) -> Condition:
    """Same data as the live colour at a pinned height (sampled again at the switch itself)."""
    name = "parity"
    if inputs.is_live_candidate:
        return Condition(name, True, "nothing live to compare with")
    report = inputs.parity
    if report is None:
        return Condition(name, False, "not compared yet")
    age = inputs.now - report.at
    if age > stale_after:
        return Condition(name, False, f"last compared {age:.0f} s ago (stale)")
    return Condition(name, report.all_match, summary(report).removeprefix("parity "))


def check_name(name: str, url: str) -> str:
    """How a readiness check reads in the gate: its name, else `check /ready`."""
    if name:
        return name
    path = urlsplit(url).path if "://" in url else url
    return f"check {path or url}"


def unmet_summary(conditions: Sequence[Condition]) -> str:
    """The unmet conditions as a refusal says them: "lag ≤ 2 for 3 s (lag 412); health"."""
    unmet = [c for c in conditions if not c.met]
    summary = "; ".join(f"{c.name} ({c.detail})" if c.detail else c.name for c in unmet)
    return summary or "no readiness has been published yet (is the agent running?)"
