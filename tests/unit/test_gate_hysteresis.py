"""A ready colour stays ready on one bad reading: the gate's grace (`leave_after_seconds` over
`LEAVE_AFTER_READINGS` evaluations), `not behind live` between two colours at the head, and the
state-change events that make any flapping visible in the history."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from console.agent.state_events import record_state_changes, state_change_text
from console.core.config.schema import ReadinessConfig
from console.core.gate.readiness import LEAVE_AFTER_READINGS, GateInputs, ReadinessGate
from console.core.model import Condition, SlotState, SlotStatus
from console.core.ops.switching import plan_switch
from console.core.store.db import Database
from console.core.store.store import Store

T0 = 1_700_000_000.0
CONFIG = ReadinessConfig(
    max_lag=2,
    hold_seconds=5.0,
    log_pattern="",
    health_path="/health",
    not_behind_live=True,
    sample_interval_seconds=1.0,
    leave_after_seconds=10.0,
)
LAG = "lag ≤ 2 held 5 s"


def inputs(now: float, lag: int = 0, **overrides: Any) -> GateInputs:
    values: dict[str, object] = dict(
        now=now,
        lag=lag,
        sample_at=now,
        log_pattern_seen=None,
        health_ok=True,
        smoke_ok=None,
        smoke_detail="",
        height=20_985 - lag,
        live_height=20_985,
        live_sample_at=now,
        head_speed=1.0,
        is_live_candidate=False,
    )
    values.update(overrides)
    return GateInputs(**values)  # type: ignore[arg-type]


def ready_gate(config: ReadinessConfig = CONFIG) -> ReadinessGate:
    gate = ReadinessGate(config)
    for second in range(6):
        gate.evaluate(inputs(T0 + second))
    assert gate.evaluate(inputs(T0 + 6)).ready
    return gate


def conditions(result: Any) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.met, c.detail) for c in result.conditions}


def test_one_reading_above_max_lag_does_not_leave_ready() -> None:
    gate = ready_gate()
    blip = gate.evaluate(inputs(T0 + 7, lag=5))  # a burst of five blocks
    assert blip.ready
    met, detail = conditions(blip)[LAG]
    assert met and "lag 5" in detail and "within the 10 s grace" in detail
    # Caught up again: still ready, the hold was never lost.
    back = gate.evaluate(inputs(T0 + 8))
    assert back.ready and conditions(back)[LAG] == (True, "lag 0, held 8.0 s")


def test_a_lag_that_lasts_leaves_ready_after_the_grace_and_must_hold_again() -> None:
    gate = ready_gate()
    for second in range(7, 17):  # 9 s above max_lag (7 … 16): within the grace
        assert gate.evaluate(inputs(T0 + second, lag=9)).ready, second
    left = gate.evaluate(inputs(T0 + 17, lag=9))
    assert not left.ready
    assert conditions(left)[LAG] == (False, "lag 9, for 10.0 s")
    # Back at the head: the hold starts over, as for any candidate.
    assert not gate.evaluate(inputs(T0 + 18)).ready
    assert gate.evaluate(inputs(T0 + 23)).ready


def test_the_grace_needs_several_readings_not_only_time() -> None:
    gate = ready_gate()
    assert gate.evaluate(inputs(T0 + 7, health_ok=False)).ready
    # One more failing reading long after the first (the agent was busy): two readings are
    # not yet evidence, the third is.
    assert gate.evaluate(inputs(T0 + 30, health_ok=False)).ready
    assert LEAVE_AFTER_READINGS == 3
    assert not gate.evaluate(inputs(T0 + 31, health_ok=False)).ready


def test_a_failure_that_recovers_restarts_the_grace() -> None:
    gate = ready_gate()
    for second in range(7, 15):
        assert gate.evaluate(inputs(T0 + second, health_ok=False)).ready
    assert gate.evaluate(inputs(T0 + 15)).ready
    for second in range(16, 25):  # a new failure: a new grace, not the rest of the old one
        assert gate.evaluate(inputs(T0 + second, health_ok=False)).ready, second


def test_no_grace_before_the_first_ready() -> None:
    gate = ReadinessGate(CONFIG)
    for second in range(4):
        gate.evaluate(inputs(T0 + second))
    # Still holding: one reading above max_lag restarts the hold (no premature ready).
    assert not gate.evaluate(inputs(T0 + 4, lag=3)).ready
    assert not gate.evaluate(inputs(T0 + 6)).ready
    assert gate.lag_held_since == T0 + 6


def test_zero_grace_leaves_on_the_first_failure() -> None:
    gate = ready_gate(dataclasses.replace(CONFIG, leave_after_seconds=0.0))
    assert not gate.evaluate(inputs(T0 + 7, lag=3)).ready


# ── not behind live: two colours following one head ───────────────────────────────────────────


def test_one_block_behind_live_at_a_block_a_second_is_sampling_order() -> None:
    # The reported refusal: "1 behind live (20984 < 20985)", both colours at the head.
    result = ReadinessGate(CONFIG).evaluate(inputs(T0, lag=1, live_height=20_985))
    met, detail = conditions(result)["not behind live"]
    assert met and "20984" in detail and "within the head's 1 block(s)" in detail


def test_further_behind_live_than_the_head_moves_is_behind() -> None:
    result = ReadinessGate(CONFIG).evaluate(inputs(T0, lag=0, height=20_980, live_height=20_985))
    assert conditions(result)["not behind live"] == (False, "5 behind live (20980 < 20985)")


def test_the_allowance_grows_with_the_skew_between_the_readings() -> None:
    late = inputs(T0, height=20_982, live_height=20_985, live_sample_at=T0 - 2.0)
    assert conditions(ReadinessGate(CONFIG).evaluate(late))["not behind live"][0]
    still = inputs(T0, height=20_982, live_height=20_985, head_speed=0.0)  # a chain that paused
    assert not conditions(ReadinessGate(CONFIG).evaluate(still))["not behind live"][0]


# ── every state change is an event with its reason ───────────────────────────────────────────


def test_state_changes_are_events_with_their_reason(tmp_path: Path) -> None:
    store = Store(Database(tmp_path / "state.db"))
    lagging = (Condition(LAG, False, "lag 9, for 10.0 s"), Condition("health /health", True, "200"))
    ready = SlotStatus("green", SlotState.READY, deployment_id=3)
    syncing = SlotStatus("green", SlotState.SYNCING, deployment_id=3, conditions=lagging)
    record_state_changes(store, "agent", {}, {"green": ready})  # first tick: nothing to change
    record_state_changes(store, "agent", {"green": ready}, {"green": ready})
    record_state_changes(store, "agent", {"green": ready}, {"green": syncing})
    record_state_changes(store, "agent", {"green": syncing}, {"green": ready})
    events = [e for e in store.events() if e.kind == "state"]
    assert [(e.text, e.level) for e in events] == [
        ("green: ready → syncing (lag ≤ 2 held 5 s (lag 9, for 10.0 s))", "warning"),
        ("green: syncing → ready (every readiness condition holds)", "success"),
    ]
    assert all(e.deployment_id == 3 and e.color == "green" for e in events)
    failed = dataclasses.replace(syncing, state=SlotState.FAILED, reason="Stalled at height 9.")
    assert state_change_text(syncing, failed) == "green: syncing → failed (Stalled at height 9.)"
    store.close()


def test_the_console_says_at_head_instead_of_an_eta() -> None:
    from console.tui.widgets.slot_panel import speed_line

    ready = SlotStatus("green", SlotState.READY, lag=1, speed=1.0, head_speed=1.0, at_head=True)
    assert str(speed_line(ready, T0)) == "speed 1.0 b/s (head +1.0 b/s) · at head"
    syncing = dataclasses.replace(ready, state=SlotState.SYNCING, lag=600, at_head=False)
    assert "ETA — (not closing in)" in str(speed_line(syncing, T0))


def test_at_the_head_the_disk_outlook_is_growth_alone() -> None:
    from console.core.gate.disk import DiskOutlook, disk_warning, free_disk_condition
    from console.core.measures.resources import ResourceFigures, disk_text

    # The reported false alarm: a caught-up colour, a closing speed near zero at the head, and
    # "fills its budget 256.0 MiB before caught up: full in 6.6h, catch-up ETA 46.8h".
    catching_up = DiskOutlook(100 << 20, 4400.0, 46.8 * 3600, "budget 256.0 MiB")
    assert disk_warning("green", catching_up) is not None
    # At the head the tracker gives no ETA, so there is no catch-up to outlast.
    at_head = dataclasses.replace(catching_up, eta_seconds=None)
    assert at_head.fills_before_caught_up is None and disk_warning("green", at_head) is None
    assert free_disk_condition(at_head).met
    figures = ResourceFigures(
        disk_free_bytes=at_head.free_bytes, disk_full_in_seconds=at_head.full_in_seconds
    )
    text = disk_text(figures) or ""
    assert "full in 6h37m" in text and "before caught up" not in text


def test_a_ready_colour_whose_latest_health_check_failed_is_not_switched_to(
    tmp_path: Path,
) -> None:
    """Within the grace the colour reads ready (no flicker), but a switch or a canary never
    moves traffic to a colour whose latest health check failed: a hung container answers
    nothing, and that is a true reason to refuse."""
    store = Store(Database(tmp_path / "state.db"))
    store.set_live("blue", None)
    within_grace = Condition("health /health", True, "timed out; within the 10 s grace (2.1 s)")
    ready = SlotStatus(
        "green",
        SlotState.READY,
        ready=True,
        healthy=True,
        container_state="running",
        conditions=(within_grace,),
        updated_at=1000.0,
    )
    inst: Any = SimpleNamespace(store=store, config=SimpleNamespace(readiness=CONFIG))
    store.put_slot_status(ready)
    assert plan_switch(inst, now=1001.0).gate_met
    store.put_slot_status(dataclasses.replace(ready, healthy=False))
    plan = plan_switch(inst, now=1001.0)
    assert not plan.gate_met
    assert ("health answers now", False) in [(c.name, c.met) for c in plan.conditions]
    store.close()
