"""Judge a colour by its traffic: one verdict per poll, and a running count of failed polls.

Pure logic over `TrafficFigures` (console/core/measures/traffic.py), no drivers, no clock: the agent
(console/agent/analysis_watch.py) feeds it the figures of each poll and acts on the verdicts.

A verdict is `pass`, `fail` (which limits, with the measured and allowed figures) or
`inconclusive` (why). Too few requests is inconclusive, never a failure: a quiet service must
never be rolled back for being quiet. A limit the proxy cannot measure (no p99 on HAProxy, no
baseline for a ratio) is skipped and said; a poll where no limit could be checked is
inconclusive. What a read error counts as is the operator's choice (`on_read_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from console.core.config.analysis import AnalysisConfig
from console.core.measures.traffic import TrafficFigures
from console.core.model import Condition

Result = Literal["pass", "fail", "inconclusive"]
PRE_SWITCH_CONDITION = "pre-switch analysis"
# A p99 ratio below this many ms says nothing: the latency buckets are a few ms wide there and one
# scheduler hiccup triples a 2 ms p99. The ratio limit is taken against at least this baseline.
RATIO_FLOOR_MS = 5.0


@dataclass(frozen=True, slots=True)
class Breach:
    """One limit a poll broke, with the figures that broke it."""

    limit: str  # the [analysis] key: max_error_rate, max_p99_ms, max_p99_ratio
    measured: float
    allowed: float

    @property
    def text(self) -> str:
        if self.limit == "max_error_rate":
            return f"5xx {self.measured * 100:.1f}% > {self.allowed * 100:.1f}% (max_error_rate)"
        if self.limit == "max_p99_ms":
            return f"p99 {self.measured:.0f} ms > {self.allowed:.0f} ms (max_p99_ms)"
        return f"p99 {self.measured:.0f} ms > {self.allowed:.0f} ms (max_p99_ratio)"


@dataclass(frozen=True, slots=True)
class Verdict:
    result: Result
    text: str  # one sentence for the event log and notifications
    figures: TrafficFigures | None = None
    breaches: tuple[Breach, ...] = ()

    @property
    def failed(self) -> bool:
        return self.result == "fail"


def figures_text(figures: TrafficFigures) -> str:
    """The figures a verdict was taken on: requests, window, 5xx share, p99."""
    parts = [f"{figures.window_requests} requests in {figures.window_seconds:.0f} s"]
    if figures.error_rate is not None:
        parts.append(f"5xx {figures.error_rate * 100:.1f}%")
    if figures.p99_ms is not None:
        parts.append(f"p99 {figures.p99_ms:.0f} ms")
    return ", ".join(parts)


def evaluate(
    config: AnalysisConfig,
    figures: TrafficFigures | None,
    baseline: TrafficFigures | None = None,
    read_error: str | None = None,
) -> Verdict:
    """One poll's verdict on `figures`; `baseline` is the previous colour's figures before the
    switch (for max_p99_ratio); `read_error` says the proxy's counters could not be read."""
    if read_error is not None:
        text = f"the traffic figures could not be read ({read_error.rstrip('.')})"
        if config.on_read_error == "failure":
            return Verdict("fail", f"fail: {text}; on_read_error = failure counts it.")
        return Verdict("inconclusive", f"inconclusive: {text}.")
    if figures is None:
        return Verdict("inconclusive", "inconclusive: the proxy has no figures for it yet.")
    if figures.window_requests < config.min_requests:
        return Verdict(
            "inconclusive",
            f"inconclusive: {figures.window_requests} requests in the last "
            f"{figures.window_seconds:.0f} s, fewer than min_requests ({config.min_requests}).",
            figures,
        )
    breaches: list[Breach] = []
    checked: list[str] = []
    skipped: list[str] = []
    if config.max_error_rate < 1.0 and figures.error_rate is not None:
        checked.append(f"5xx ≤ {config.max_error_rate * 100:g}%")
        if figures.error_rate > config.max_error_rate:
            breaches.append(Breach("max_error_rate", figures.error_rate, config.max_error_rate))
    if config.max_p99_ms > 0:
        if figures.p99_ms is None:
            skipped.append("max_p99_ms (the proxy gives no p99)")
        else:
            checked.append(f"p99 ≤ {config.max_p99_ms:g} ms")
            if figures.p99_ms > config.max_p99_ms:
                breaches.append(Breach("max_p99_ms", figures.p99_ms, config.max_p99_ms))
    if config.max_p99_ratio > 0:
        allowed, why_not = _ratio_limit(config, baseline)
        if figures.p99_ms is None:
            skipped.append("max_p99_ratio (the proxy gives no p99)")
        elif allowed is None:
            skipped.append(f"max_p99_ratio ({why_not})")
        else:
            checked.append(f"p99 ≤ {allowed:.0f} ms")
            if figures.p99_ms > allowed:
                breaches.append(Breach("max_p99_ratio", figures.p99_ms, allowed))
    seen = figures_text(figures)
    not_checked = f"; not checked: {', '.join(skipped)}" if skipped else ""
    if breaches:
        broken = "; ".join(b.text for b in breaches)
        return Verdict(
            "fail", f"fail: {broken} over {seen}{not_checked}.", figures, tuple(breaches)
        )
    if not checked:
        return Verdict(
            "inconclusive",
            f"inconclusive: no limit could be checked{not_checked} ({seen}).",
            figures,
        )
    return Verdict("pass", f"pass: {seen} ({', '.join(checked)}){not_checked}.", figures)


def _ratio_limit(
    config: AnalysisConfig, baseline: TrafficFigures | None
) -> tuple[float | None, str]:
    if baseline is None or baseline.p99_ms is None:
        return None, "no baseline p99 of the previous colour"
    if baseline.window_requests < config.min_requests:
        return None, (
            f"the previous colour's baseline had {baseline.window_requests} requests, fewer "
            "than min_requests"
        )
    return config.max_p99_ratio * max(baseline.p99_ms, RATIO_FLOOR_MS), ""


@dataclass(frozen=True, slots=True)
class Tally:
    """The running count of one watch: polls, failed polls, and when the limit is reached."""

    failure_limit: int
    polls: int = 0
    failures: int = 0
    inconclusive: int = 0

    def after(self, verdict: Verdict) -> Tally:
        return Tally(
            self.failure_limit,
            self.polls + 1,
            self.failures + (1 if verdict.result == "fail" else 0),
            self.inconclusive + (1 if verdict.result == "inconclusive" else 0),
        )

    @property
    def exhausted(self) -> bool:
        """Failed polls reached failure_limit: roll back."""
        return self.failures >= self.failure_limit

    @property
    def text(self) -> str:
        return f"{self.failures}/{self.failure_limit} failed polls"


def pre_switch_condition(verdict: Verdict) -> Condition:
    """The gate condition the idle colour's own traffic makes when `pre_switch` is on: only a
    pass opens it (an inconclusive check refuses too — nobody has tried that colour yet)."""
    detail = verdict.text
    if verdict.result == "inconclusive":
        detail += " Send preview or canary traffic to it, or switch with --force."
    return Condition(PRE_SWITCH_CONDITION, verdict.result == "pass", detail)
