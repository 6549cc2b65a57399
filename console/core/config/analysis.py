"""`[analysis]`: judge a release by what its users get, and roll back on a breach.

After a switch the agent reads the new colour's traffic figures every `interval_seconds` over the
last `window_seconds` (never from before the switch) and compares them with the limits here; a
poll with fewer than `min_requests` requests is inconclusive, never a failure, so a quiet service
is never rolled back (Flagger counts "no data" as a failure; this does not). `failure_limit`
failed polls within `switch.watch_seconds` roll back. With `pre_switch`, the same checks on the
idle colour's own traffic (preview or canary requests) gate the switch.

No `[analysis]` table: no analysis (an upgrade must not start rolling back releases by itself).
The table parses through config_coerce.build like every other section; this module adds the
range checks, each problem one phrase naming its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from console.core.config.schema import Config


@dataclass(frozen=True)
class AnalysisConfig:
    enabled: bool = True  # writing the [analysis] table turns it on; `enabled = false` keeps it off
    interval_seconds: float = 10.0  # one evaluation (poll) this often
    window_seconds: float = 30.0  # the figures of each poll cover this much traffic
    max_error_rate: float = 0.05  # 5xx share of the window's answers, 0..1; 1 = no limit
    max_p99_ms: float = 0.0  # absolute p99 limit in ms; 0 = no limit
    max_p99_ratio: float = 0.0  # p99 ≤ this × the previous colour's p99 before the switch; 0 = off
    failure_limit: int = 3  # failed polls within the watch before rolling back
    min_requests: int = 20  # fewer requests in the window: inconclusive, never a failure
    on_read_error: Literal["inconclusive", "failure"] = "inconclusive"
    pre_switch: bool = False  # the idle colour's own traffic must pass before a switch


def analysis_problems(config: Config) -> list[str]:
    """What is wrong with `[analysis]`, one phrase per key (config_checks.validate joins them)."""
    analysis = config.analysis
    if not analysis.enabled:
        return []
    problems: list[str] = []
    if analysis.interval_seconds < 0.5:
        problems.append(
            "analysis.interval_seconds must be 0.5 or more (one evaluation per interval; "
            "10 is typical)"
        )
    if analysis.window_seconds < analysis.interval_seconds:
        problems.append(
            f"analysis.window_seconds ({analysis.window_seconds:g}) must be at least "
            f"analysis.interval_seconds ({analysis.interval_seconds:g}): each poll needs a window "
            "that covers the time since the last one"
        )
    if not 0.0 <= analysis.max_error_rate <= 1.0:
        problems.append(
            f"analysis.max_error_rate = {analysis.max_error_rate:g} is a share, not a percentage: "
            "write 0.01 for 1 % of answers being 5xx (1 = no limit)"
        )
    if analysis.max_p99_ms < 0:
        problems.append("analysis.max_p99_ms must be 0 (no limit) or a latency in ms")
    if analysis.max_p99_ratio != 0 and analysis.max_p99_ratio <= 1.0:
        problems.append(
            f"analysis.max_p99_ratio = {analysis.max_p99_ratio:g} would fail a release as fast as "
            "the previous one: use a factor above 1 (e.g. 3 for three times the previous p99), or "
            "0 to turn it off"
        )
    if analysis.failure_limit < 1:
        problems.append(
            "analysis.failure_limit must be 1 or more (the number of failed polls that roll back)"
        )
    if analysis.min_requests < 1:
        problems.append(
            "analysis.min_requests must be 1 or more: a window without requests says nothing "
            "about a release"
        )
    watch = config.switch.watch_seconds
    needed = analysis.failure_limit * analysis.interval_seconds
    if analysis.failure_limit >= 1 and analysis.interval_seconds > 0 and needed > watch:
        problems.append(
            f"analysis.failure_limit × interval_seconds = {needed:g} s is longer than "
            f"switch.watch_seconds ({watch:g} s), so the analysis could never roll back: lower "
            "them or raise switch.watch_seconds"
        )
    percentiles = config.proxy.measures_latency_percentiles
    if not percentiles and analysis.max_p99_ms + analysis.max_p99_ratio > 0:
        problems.append(
            "analysis.max_p99_ms and max_p99_ratio need latency percentiles, which "
            f"{config.proxy.title}'s stats do not give: set them to 0 and judge by "
            "analysis.max_error_rate"
        )
    return problems
