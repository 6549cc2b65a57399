"""Pure traffic analysis: one verdict per poll (pass / fail with the limit and figures /
inconclusive with why), the running count against failure_limit, and the pre-switch condition."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.core.config.analysis import AnalysisConfig
from console.core.gate.analysis import (
    PRE_SWITCH_CONDITION,
    RATIO_FLOOR_MS,
    Tally,
    evaluate,
    pre_switch_condition,
)
from console.core.measures.traffic import TrafficFigures

LIMITS = AnalysisConfig(max_error_rate=0.05, max_p99_ms=500, min_requests=20, failure_limit=3)


def figures(
    requests: int = 100, error_rate: float | None = 0.0, p99: float | None = 20.0
) -> TrafficFigures:
    return TrafficFigures(
        rps=requests / 10,
        error_rate=error_rate,
        p50_ms=p99 / 2 if p99 is not None else None,
        p99_ms=p99,
        window_requests=requests,
        window_seconds=10.0,
    )


def test_healthy_traffic_passes_and_says_what_it_checked() -> None:
    verdict = evaluate(LIMITS, figures())
    assert verdict.result == "pass" and not verdict.failed and verdict.breaches == ()
    assert "100 requests in 10 s" in verdict.text and "5xx ≤ 5%" in verdict.text
    assert "p99 ≤ 500 ms" in verdict.text


def test_error_rate_above_the_limit_fails_with_the_figures() -> None:
    verdict = evaluate(LIMITS, figures(error_rate=0.33))
    assert verdict.result == "fail" and verdict.failed
    (breach,) = verdict.breaches
    assert (breach.limit, breach.measured, breach.allowed) == ("max_error_rate", 0.33, 0.05)
    assert "5xx 33.0% > 5.0% (max_error_rate)" in verdict.text
    assert "100 requests in 10 s" in verdict.text


def test_error_rate_at_the_limit_passes() -> None:
    assert evaluate(LIMITS, figures(error_rate=0.05)).result == "pass"


def test_max_error_rate_one_means_no_limit() -> None:
    config = replace(LIMITS, max_error_rate=1.0)
    verdict = evaluate(config, figures(error_rate=0.9))
    assert verdict.result == "pass" and "5xx ≤" not in verdict.text


def test_absolute_p99_limit() -> None:
    verdict = evaluate(LIMITS, figures(p99=750))
    assert verdict.result == "fail"
    assert [b.limit for b in verdict.breaches] == ["max_p99_ms"]
    assert "p99 750 ms > 500 ms (max_p99_ms)" in verdict.text


def test_both_limits_broken_are_both_named() -> None:
    verdict = evaluate(LIMITS, figures(error_rate=0.5, p99=900))
    assert [b.limit for b in verdict.breaches] == ["max_error_rate", "max_p99_ms"]


def test_too_few_requests_is_inconclusive_never_a_failure() -> None:
    # Even a window of pure 500s: five requests say nothing about a release.
    verdict = evaluate(LIMITS, figures(requests=5, error_rate=1.0, p99=9000))
    assert verdict.result == "inconclusive" and not verdict.failed
    assert "5 requests in the last 10 s, fewer than min_requests (20)" in verdict.text


def test_no_traffic_at_all_is_inconclusive() -> None:
    quiet = TrafficFigures(rps=0.0, window_requests=0, window_seconds=10.0)
    assert evaluate(LIMITS, quiet).result == "inconclusive"
    assert evaluate(LIMITS, None).result == "inconclusive"


def test_p99_ratio_against_the_previous_colours_baseline() -> None:
    config = replace(LIMITS, max_p99_ms=0, max_p99_ratio=3.0)
    baseline = figures(p99=40)
    assert evaluate(config, figures(p99=110), baseline).result == "pass"
    verdict = evaluate(config, figures(p99=130), baseline)
    assert verdict.result == "fail"
    (breach,) = verdict.breaches
    assert (breach.limit, breach.measured, breach.allowed) == ("max_p99_ratio", 130, 120)


def test_p99_ratio_has_a_floor_for_tiny_baselines() -> None:
    # A 1 ms baseline tripled is 3 ms: bucket noise. The limit is taken against the floor.
    config = replace(LIMITS, max_p99_ms=0, max_p99_ratio=3.0)
    assert evaluate(config, figures(p99=10), figures(p99=1)).result == "pass"
    assert evaluate(config, figures(p99=3 * RATIO_FLOOR_MS + 1), figures(p99=1)).failed


def test_p99_ratio_without_a_usable_baseline_is_skipped_and_said() -> None:
    config = replace(LIMITS, max_p99_ms=0, max_p99_ratio=3.0)
    for baseline in (None, figures(p99=None), figures(requests=3, p99=10)):
        verdict = evaluate(config, figures(p99=5000), baseline)
        assert verdict.result == "pass", verdict.text  # the error rate was still checked
        assert "not checked: max_p99_ratio" in verdict.text


def test_only_unmeasurable_limits_is_inconclusive() -> None:
    # HAProxy gives no p99: a latency-only analysis cannot judge anything.
    config = replace(LIMITS, max_error_rate=1.0, max_p99_ms=500)
    verdict = evaluate(config, figures(p99=None))
    assert verdict.result == "inconclusive"
    assert "max_p99_ms (the proxy gives no p99)" in verdict.text


@pytest.mark.parametrize(
    ("on_read_error", "result"), [("inconclusive", "inconclusive"), ("failure", "fail")]
)
def test_a_read_error_counts_as_configured(on_read_error: str, result: str) -> None:
    config = replace(LIMITS, on_read_error=on_read_error)  # type: ignore[arg-type]
    verdict = evaluate(config, figures(), read_error="the proxy's traffic counters: timed out.")
    assert verdict.result == result
    assert "could not be read (the proxy's traffic counters: timed out)" in verdict.text


def test_the_tally_reaches_the_failure_limit_on_failed_polls_only() -> None:
    tally = Tally(3)
    bad, quiet, good = (
        evaluate(LIMITS, figures(error_rate=0.5)),
        evaluate(LIMITS, figures(requests=0)),
        evaluate(LIMITS, figures()),
    )
    for verdict in (bad, quiet, good, bad, quiet, quiet):
        tally = tally.after(verdict)
        assert not tally.exhausted
    assert (tally.polls, tally.failures, tally.inconclusive) == (6, 2, 3)
    tally = tally.after(bad)
    assert tally.exhausted and tally.text == "3/3 failed polls"


def test_a_quiet_service_never_exhausts_the_tally() -> None:
    tally = Tally(1)
    for _ in range(1000):
        tally = tally.after(evaluate(LIMITS, figures(requests=0, error_rate=None, p99=None)))
    assert not tally.exhausted and tally.inconclusive == 1000


def test_pre_switch_condition_opens_only_on_a_pass() -> None:
    passed = pre_switch_condition(evaluate(LIMITS, figures()))
    assert passed.name == PRE_SWITCH_CONDITION and passed.met
    failed = pre_switch_condition(evaluate(LIMITS, figures(error_rate=0.4)))
    assert not failed.met and "max_error_rate" in failed.detail
    quiet = pre_switch_condition(evaluate(LIMITS, figures(requests=2)))
    assert not quiet.met and "preview or canary traffic" in quiet.detail
