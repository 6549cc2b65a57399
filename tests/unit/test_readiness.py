"""ReadinessGate: lag hold, staleness, optional conditions, and health never being enough."""

from __future__ import annotations

import dataclasses
from typing import Any

from console.core.config.schema import ReadinessConfig
from console.core.config.sources import ReadinessCheck
from console.core.gate.readiness import GateInputs, GateResult, ReadinessGate

T0 = 1_700_000_000.0
FULL = ReadinessConfig(
    max_lag=2,
    hold_seconds=5.0,
    log_pattern="catchup completed",
    health_path="/health",
    smoke_method="POST",
    smoke_path="/graphql",
    smoke_body='{"query":"{ __typename }"}',
    not_behind_live=True,
    sample_interval_seconds=1.0,
    leave_after_seconds=0.0,  # leave ready on the first failure: the hysteresis has its own tests
)


def inputs(now: float, lag: int | None = 0, **overrides: Any) -> GateInputs:
    values: dict[str, object] = dict(
        now=now,
        lag=lag,
        sample_at=now,
        log_pattern_seen=True,
        health_ok=True,
        smoke_ok=True,
        smoke_detail="200",
        height=1000,
        live_height=990,
        is_live_candidate=False,
    )
    values.update(overrides)
    return GateInputs(**values)  # type: ignore[arg-type]


def by_name(result: GateResult) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.met, c.detail) for c in result.conditions}


def test_condition_names_are_for_humans() -> None:
    result = ReadinessGate(FULL).evaluate(inputs(T0, lag=812))
    assert [c.name for c in result.conditions] == [
        "lag ≤ 2 held 5 s",
        "log: catchup completed",
        "health /health",
        "smoke POST /graphql",
        "not behind live",
    ]
    assert by_name(result)["lag ≤ 2 held 5 s"] == (False, "lag 812")
    assert not result.ready and result.met_since is None


def test_ready_exactly_when_hold_elapses() -> None:
    gate = ReadinessGate(FULL)
    assert not gate.evaluate(inputs(T0)).ready
    mid = gate.evaluate(inputs(T0 + 3.1))
    assert not mid.ready
    assert by_name(mid)["lag ≤ 2 held 5 s"] == (False, "held 3.1 s of 5 s")
    assert gate.lag_held_since == T0
    done = gate.evaluate(inputs(T0 + 5.0))
    assert done.ready
    assert done.met_since == T0 + 5.0
    later = gate.evaluate(inputs(T0 + 9.0))
    assert later.ready and later.met_since == T0 + 5.0  # met_since stays at the first ready moment


def test_hold_counts_from_when_the_low_lag_was_observed() -> None:
    gate = ReadinessGate(FULL)
    result = gate.evaluate(inputs(T0 + 2.0, sample_at=T0 + 0.5))
    assert gate.lag_held_since == T0 + 0.5
    assert by_name(result)["lag ≤ 2 held 5 s"][1] == "held 1.5 s of 5 s"


def test_hold_resets_when_lag_rises() -> None:
    gate = ReadinessGate(FULL)
    gate.evaluate(inputs(T0))
    gate.evaluate(inputs(T0 + 4, lag=3))
    assert gate.lag_held_since is None
    assert not gate.evaluate(inputs(T0 + 6)).ready  # hold restarted at T0+6
    assert not gate.evaluate(inputs(T0 + 10.9)).ready
    assert gate.evaluate(inputs(T0 + 11)).ready


def test_stale_sample_resets_hold_and_is_not_met() -> None:
    gate = ReadinessGate(FULL)
    gate.evaluate(inputs(T0))
    # Sampler stopped: at T0+10 the last sample is from T0+6 (4 s > 3 × 1 s interval).
    gate.evaluate(inputs(T0 + 6))
    stale = gate.evaluate(inputs(T0 + 10, sample_at=T0 + 6))
    assert not stale.ready
    met, detail = by_name(stale)["lag ≤ 2 held 5 s"]
    assert not met and "stale" in detail
    assert gate.lag_held_since is None
    # Fresh again: the hold starts over rather than counting the blind period.
    assert not gate.evaluate(inputs(T0 + 11)).ready
    assert gate.evaluate(inputs(T0 + 16)).ready


def test_sample_within_three_intervals_is_fresh() -> None:
    gate = ReadinessGate(FULL)
    gate.evaluate(inputs(T0))
    assert gate.evaluate(inputs(T0 + 7.9, sample_at=T0 + 5)).ready


def test_unknown_lag_is_not_met() -> None:
    result = ReadinessGate(FULL).evaluate(inputs(T0, lag=None, sample_at=None))
    assert by_name(result)["lag ≤ 2 held 5 s"] == (False, "no height sample yet")


def test_health_alone_is_never_readiness() -> None:
    minimal = ReadinessConfig(log_pattern="", smoke_path="", not_behind_live=False, hold_seconds=5)
    gate = ReadinessGate(minimal)
    for t in range(0, 30):
        result = gate.evaluate(inputs(T0 + t, lag=5000, health_ok=True))
        assert not result.ready
    assert [c.name for c in result.conditions] == ["lag ≤ 2 held 5 s", "health /health"]


def test_disabled_conditions_are_omitted() -> None:
    cfg = dataclasses.replace(FULL, log_pattern="", smoke_path="", not_behind_live=False)
    names = [c.name for c in ReadinessGate(cfg).evaluate(inputs(T0)).conditions]
    assert names == ["lag ≤ 2 held 5 s", "health /health"]


def test_each_optional_condition_blocks_readiness() -> None:
    blockers: dict[str, dict[str, Any]] = {
        "log: catchup completed": dict(log_pattern_seen=False),
        "health /health": dict(health_ok=False),
        "smoke POST /graphql": dict(smoke_ok=False, smoke_detail="errors: boom"),
        "not behind live": dict(height=900, live_height=1000),
    }
    for name, override in blockers.items():
        gate = ReadinessGate(FULL)
        gate.evaluate(inputs(T0, **override))
        result = gate.evaluate(inputs(T0 + 10, **override))
        assert not result.ready, name
        failing = [c.name for c in result.conditions if not c.met]
        assert failing == [name]
    assert by_name(gate.evaluate(inputs(T0 + 11, height=900, live_height=1000)))[
        "not behind live"
    ] == (False, "100 behind live (900 < 1000)")


def test_unchecked_optional_conditions_are_not_met() -> None:
    gate = ReadinessGate(FULL)
    result = gate.evaluate(
        inputs(T0, log_pattern_seen=None, health_ok=None, smoke_ok=None, smoke_detail="")
    )
    conditions = by_name(result)
    assert conditions["log: catchup completed"] == (False, "not seen yet")
    assert conditions["health /health"] == (False, "not checked yet")
    assert conditions["smoke POST /graphql"] == (False, "not checked yet")


def test_not_behind_live_needs_live_height_unless_nothing_is_live() -> None:
    gate = ReadinessGate(FULL)
    result = gate.evaluate(inputs(T0, live_height=None))
    assert by_name(result)["not behind live"] == (False, "live height unknown")
    first_deploy = gate.evaluate(inputs(T0, live_height=None, is_live_candidate=True))
    assert by_name(first_deploy)["not behind live"][0] is True


def test_any_condition_failing_clears_met_since() -> None:
    gate = ReadinessGate(FULL)
    gate.evaluate(inputs(T0))
    assert gate.evaluate(inputs(T0 + 5)).met_since == T0 + 5
    assert gate.evaluate(inputs(T0 + 6, health_ok=False)).met_since is None
    # The lag hold survived the health blip, so readiness comes back at once.
    assert gate.evaluate(inputs(T0 + 7)).met_since == T0 + 7


def test_reset_forgets_hold() -> None:
    gate = ReadinessGate(FULL)
    gate.evaluate(inputs(T0))
    gate.reset()
    assert gate.lag_held_since is None
    assert not gate.evaluate(inputs(T0 + 5)).ready


# ── services that do not re-index, readiness checks, min_ready_seconds ─────────────────────────

WEB = ReadinessConfig(
    log_pattern="",
    health_path="/api/health/ready",
    smoke_path="",
    not_behind_live=True,
    min_ready_seconds=10.0,
    checks=[ReadinessCheck(url="http://127.0.0.1:{host_port}/ready")],
)


def test_without_catch_up_there_is_no_lag_and_no_height_condition() -> None:
    gate = ReadinessGate(WEB, catchup=False)
    result = gate.evaluate(
        inputs(T0, lag=None, sample_at=None, height=None, live_height=None, checks=((True, "200"),))
    )
    assert [c.name for c in result.conditions] == [
        "health /api/health/ready",
        "check /ready",
        "ready held 10 s",
    ]
    assert by_name(result)["ready held 10 s"] == (False, "held 0.0 s of 10 s")


def test_min_ready_seconds_must_hold_and_a_flap_restarts_it() -> None:
    gate = ReadinessGate(WEB, catchup=False)
    ok = {"lag": None, "sample_at": None, "checks": ((True, "HTTP 200"),)}
    assert not gate.evaluate(inputs(T0, **ok)).ready
    assert not gate.evaluate(inputs(T0 + 9.9, **ok)).ready
    flap = gate.evaluate(inputs(T0 + 10, health_ok=False, **ok))
    assert by_name(flap)["ready held 10 s"] == (False, "waiting for the other conditions")
    assert not gate.evaluate(inputs(T0 + 11, **ok)).ready
    assert not gate.evaluate(inputs(T0 + 20.9, **ok)).ready
    done = gate.evaluate(inputs(T0 + 21, **ok))
    assert done.ready and by_name(done)["ready held 10 s"] == (True, "held 10.0 s")


def test_a_readiness_check_adds_to_lag_never_replaces_it() -> None:
    config = dataclasses.replace(
        FULL, checks=[ReadinessCheck(url="http://x/ready", expect_status=200, name="/ready flag")]
    )
    gate = ReadinessGate(config)
    sticky_but_behind = gate.evaluate(inputs(T0, lag=90, checks=((True, "HTTP 200"),)))
    assert by_name(sticky_but_behind)["/ready flag"] == (True, "HTTP 200")
    assert not sticky_but_behind.ready  # Ponder's /ready turns 200 ~90 blocks behind
    unchecked = gate.evaluate(inputs(T0 + 10, lag=0))
    assert by_name(unchecked)["/ready flag"] == (False, "not checked yet")


def test_health_detail_is_shown() -> None:
    gate = ReadinessGate(WEB, catchup=False)
    result = gate.evaluate(inputs(T0, health_ok=False, health_detail="HTTP 200 without 'ok'"))
    assert by_name(result)["health /api/health/ready"] == (False, "HTTP 200 without 'ok'")
