"""The catch-up benchmark's own watcher: when it calls a ready premature, and what it names.

Pure functions over a synthetic timeline (the benchmark itself runs them on real readings).
"""

from __future__ import annotations

from bench.catchup_detection import Timeline, gate_met_at, unmet_at_ready

MAX_LAG, HOLD = 2, 3.0


def _timeline(low_from: float, end: float = 10.0, pattern_at: float | None = 4.0) -> Timeline:
    """Head 1000; green catches up at `low_from`; readings every 0.05 s; blue level with it."""
    timeline = Timeline(first_pattern_at=pattern_at)
    at = 0.0
    while at <= end:
        green = 1000 if at >= low_from else 900
        timeline.samples.append((at, 1000, green, min(green, 1000)))
        timeline.probes.append((at, True))
        at = round(at + 0.05, 3)
    return timeline


def test_ready_after_the_hold_is_not_premature() -> None:
    timeline = _timeline(low_from=4.0)
    met, since = gate_met_at(timeline, 8.0, MAX_LAG, HOLD)
    assert since == 3.95  # credited from the last reading that proved the lag high
    assert met == 6.95
    assert unmet_at_ready(timeline, 7.0, MAX_LAG, HOLD, []) == []


def test_ready_inside_the_hold_names_the_lag_and_where_it_was_missed() -> None:
    timeline = _timeline(low_from=4.0)
    agent = [(3.0, 1000, 900), (4.2, 1000, 1000), (5.2, 1000, 1000), (6.2, 1000, 1000)]
    (unmet,) = unmet_at_ready(timeline, 6.5, MAX_LAG, HOLD, agent)
    assert unmet.startswith("lag ≤ 2 held 3 s: lag ≥ 100 2.55 s before ready")
    assert "the agent's own samples show it: a gate bug" in unmet


def test_a_spike_between_the_agents_samples_is_told_apart() -> None:
    timeline = _timeline(low_from=1.0)
    timeline.samples[100] = (5.0, 1000, 990, 990)  # a 50 ms lag spike at 5.0 s
    agent = [(4.6, 1000, 1000), (5.6, 1000, 1000), (6.6, 1000, 1000)]
    (unmet,) = unmet_at_ready(timeline, 6.7, MAX_LAG, HOLD, agent)
    assert "(between the agent's samples)" in unmet


def test_pattern_not_logged_and_failing_probes_are_named() -> None:
    timeline = _timeline(low_from=1.0, pattern_at=None)
    timeline.probes = [(at, False) for at, _ in timeline.probes]
    unmet = unmet_at_ready(timeline, 6.0, MAX_LAG, HOLD, [])
    assert unmet == [
        "log pattern `catchup completed`: not logged before ready",
        "health/smoke: every probe in the 1.5 s before ready failed",
    ]


def test_behind_live_at_every_recent_reading_is_named() -> None:
    timeline = _timeline(low_from=1.0)
    timeline.samples = [
        (at, head, green, (green or 0) + 2) for at, head, green, _ in timeline.samples
    ]
    unmet = unmet_at_ready(timeline, 6.0, MAX_LAG, HOLD, [])
    assert unmet == [
        "not behind live: green was more than 1 block behind blue at every sample in the 1.5 s "
        "before"
    ]


def test_one_block_behind_live_is_sampling_order_not_premature() -> None:
    # Two indexers following one head: one is a block ahead about half the time (issue 20).
    timeline = _timeline(low_from=1.0)
    timeline.samples = [
        (at, head, green, (green or 0) + 1) for at, head, green, _ in timeline.samples
    ]
    assert unmet_at_ready(timeline, 6.0, MAX_LAG, HOLD, []) == []
