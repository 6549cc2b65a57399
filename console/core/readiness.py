"""The readiness gate: may this colour take traffic?

A re-indexing service answers `/health` 200 from startup, hours before it can serve, so health is
one condition among several and never readiness on its own. For such a service (catch-up on) the
lag condition is always present and must *hold* for `hold_seconds` on fresh samples: one lucky or
old reading is not enough. Extra readiness checks (`/ready` flags, often sticky) add to it, never
replace it. A service that does not re-index is ready on health, smoke, log pattern and checks,
held for `min_ready_seconds`.

Pure: the caller supplies every observation and the time; the gate keeps only the "held since"
state between evaluations, so one gate object is used per colour per deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from console.core.config import ReadinessConfig
from console.core.disk import DiskOutlook, free_disk_condition
from console.core.model import Condition
from console.core.parity import ParityReport, summary

# A sample older than this many sample intervals is stale: the sampler has stopped or the source is
# unreachable, and what was true then says nothing about now.
STALE_AFTER_INTERVALS = 3.0


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

    @property
    def lag_held_since(self) -> float | None:
        """Since when the lag has stayed ≤ max_lag on fresh samples (None = not currently)."""
        return self._lag_ok_since

    def reset(self) -> None:
        """Forget the hold, e.g. when the candidate container restarts."""
        self._lag_ok_since = None
        self._met_since = None
        self._others_met_since = None

    def evaluate(self, inputs: GateInputs) -> GateResult:
        cfg = self.config
        conditions = [self._lag_condition(inputs)] if self.catchup else []
        if cfg.log_pattern:
            conditions.append(_log_condition(cfg.log_pattern, inputs.log_pattern_seen))
        if cfg.health_path:
            name = f"health {cfg.health_path}"
            conditions.append(_check_condition(name, inputs.health_ok, inputs.health_detail))
        if cfg.smoke_path:
            name = f"smoke {cfg.smoke_method} {cfg.smoke_path}"
            conditions.append(_check_condition(name, inputs.smoke_ok, inputs.smoke_detail))
        for index, check in enumerate(cfg.checks):
            ok, detail = inputs.checks[index] if index < len(inputs.checks) else (None, "")
            conditions.append(_check_condition(check_name(check.name, check.url), ok, detail))
        if cfg.not_behind_live and self.catchup:
            conditions.append(_not_behind_live(inputs))
        if inputs.disk is not None:
            conditions.append(free_disk_condition(inputs.disk))
        if cfg.parity_required:
            conditions.append(_parity(inputs, STALE_AFTER_INTERVALS * cfg.parity_interval_seconds))
        if cfg.min_ready_seconds > 0:
            conditions.append(self._held_condition(inputs.now, all(c.met for c in conditions)))
        ready = all(c.met for c in conditions)
        if not ready:
            self._met_since = None
        elif self._met_since is None:
            self._met_since = inputs.now
        return GateResult(ready=ready, conditions=tuple(conditions), met_since=self._met_since)

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
            self._lag_ok_since = None
            return Condition(name, False, f"last sample {_seconds(round(age, 1))} s old (stale)")
        if inputs.lag > cfg.max_lag:
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


def _not_behind_live(inputs: GateInputs) -> Condition:
    name = "not behind live"
    if inputs.is_live_candidate:
        return Condition(name, True, "nothing live to be behind")
    if inputs.height is None:
        return Condition(name, False, "height unknown")
    if inputs.live_height is None:
        return Condition(name, False, "live height unknown")
    behind = inputs.live_height - inputs.height
    if behind > 0:
        return Condition(
            name, False, f"{behind} behind live ({inputs.height} < {inputs.live_height})"
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
