"""CatchupTracker: speeds, closing-speed ETA, progress, stalls, milestones (synthetic samples)."""

from __future__ import annotations

import pytest

from console.core.gate.tracking import MAX_MILESTONES_PER_CALL, CatchupTracker
from console.core.model import Sample

T0 = 1_700_000_000.0  # realistic epoch times: the slope must not lose precision on them


def feed(
    tracker: CatchupTracker,
    seconds: int,
    height0: int,
    rate: float,
    head0: int,
    head_rate: float,
    step: float = 1.0,
) -> None:
    for i in range(int(seconds / step) + 1):
        t = i * step
        tracker.add(
            Sample(at=T0 + t, head=int(head0 + head_rate * t), height=int(height0 + rate * t))
        )


def test_eta_uses_closing_speed_not_indexing_speed() -> None:
    tracker = CatchupTracker(window_seconds=60)
    # Indexing 100 b/s, head growing 10 b/s; after 10 s the lag is 900.
    feed(tracker, 10, height0=0, rate=100, head0=1810, head_rate=10)
    assert tracker.height == 1000
    assert tracker.head == 1910
    assert tracker.lag == 910
    assert tracker.speed == pytest.approx(100)
    assert tracker.head_speed == pytest.approx(10)
    assert tracker.closing_speed == pytest.approx(90)
    assert tracker.eta_seconds == pytest.approx(910 / 90)


def test_eta_ten_seconds_for_lag_900_at_100_vs_10() -> None:
    tracker = CatchupTracker()
    tracker.add(Sample(T0, head=10_000, height=8_200))
    tracker.add(Sample(T0 + 10, head=10_100, height=9_200))
    assert tracker.lag == 900
    assert tracker.eta_seconds == pytest.approx(10.0)  # the naive lag/speed would say 9 s


def test_eta_none_when_not_closing() -> None:
    tracker = CatchupTracker()
    feed(tracker, 20, height0=0, rate=10, head0=500, head_rate=10)
    assert tracker.lag == 500
    assert tracker.closing_speed == pytest.approx(0)
    assert tracker.eta_seconds is None
    falling = CatchupTracker()
    feed(falling, 20, height0=0, rate=5, head0=500, head_rate=10)
    assert falling.eta_seconds is None


def test_no_eta_at_the_head_and_none_when_unknown() -> None:
    tracker = CatchupTracker()
    assert tracker.eta_seconds is None and not tracker.at_head
    tracker.add(Sample(T0, head=100, height=None))
    assert tracker.lag is None and tracker.eta_seconds is None
    tracker.add(Sample(T0 + 1, head=100, height=101))  # head reading trails the candidate
    assert tracker.lag == -1
    assert tracker.at_head and tracker.eta_seconds is None and tracker.closing_speed is None


def _following(max_lag: int, leave_after: float, lags: list[int]) -> CatchupTracker:
    """A colour following a head at one block a second, with the given lag at each reading."""
    tracker = CatchupTracker(max_lag=max_lag, leave_after_seconds=leave_after)
    for second, lag in enumerate(lags):
        tracker.add(Sample(T0 + second, head=20_000 + second, height=20_000 + second - lag))
    return tracker


def test_a_colour_within_max_lag_is_at_the_head_with_no_eta_or_closing_speed() -> None:
    # lag 0–1 at one block a second: the old arithmetic gave lag / ~0 closing = hours of ETA
    tracker = _following(2, 10.0, [0, 1, 0, 1, 1, 0, 1, 0, 0, 1] * 3)
    assert tracker.at_head
    assert tracker.eta_seconds is None and tracker.closing_speed is None
    assert tracker.speed is not None  # the indexing speed is still a figure worth showing


def test_at_the_edge_of_max_lag() -> None:
    assert _following(2, 0.0, [5, 4, 3, 2]).at_head  # exactly max_lag is caught up
    behind = _following(2, 0.0, [6, 5, 4, 3])
    assert not behind.at_head and behind.eta_seconds is not None  # one above is catching up
    left = _following(2, 0.0, [2, 3])  # no grace: the first reading above leaves the head
    assert not left.at_head


def test_a_bursty_head_does_not_make_a_caught_up_colour_catch_up() -> None:
    # Five blocks every five seconds: right after each burst the lag is 5 for a second or two.
    tracker = CatchupTracker(max_lag=2, leave_after_seconds=10.0)
    etas = []
    for second in range(120):
        head = 20_000 + 5 * (second // 5)
        height = head if second % 5 >= 2 else head - 5  # indexed two seconds after the burst
        tracker.add(Sample(T0 + second, head=head, height=height))
        etas.append(tracker.eta_seconds)
        assert second < 2 or tracker.at_head, second
    assert all(eta is None for eta in etas[2:])


def test_a_colour_leaves_the_head_only_after_the_grace() -> None:
    tracker = _following(2, 10.0, [0] * 5 + [8] * 10)  # 9 s above max_lag: still at the head
    assert tracker.at_head and tracker.eta_seconds is None
    tracker = _following(2, 10.0, [0] * 5 + [8] * 12)  # 11 s above: catching up, with an ETA
    assert not tracker.at_head
    assert not tracker.stalled(T0 + 17)  # the height kept going up


def test_speed_needs_two_readings_and_skips_missing_values() -> None:
    tracker = CatchupTracker()
    tracker.add(Sample(T0, head=1000, height=100))
    assert tracker.speed is None and tracker.head_speed is None and tracker.closing_speed is None
    tracker.add(Sample(T0 + 1, head=None, height=None))  # both sources failed this round
    tracker.add(Sample(T0 + 2, head=1004, height=None))
    tracker.add(Sample(T0 + 4, head=1008, height=500))
    assert tracker.speed == pytest.approx(100)
    assert tracker.head_speed == pytest.approx(2)
    assert tracker.height == 500 and tracker.head == 1008


def test_speed_is_over_the_window_only() -> None:
    tracker = CatchupTracker(window_seconds=10)
    feed(tracker, 100, height0=0, rate=1000, head0=10**6, head_rate=0)
    # Indexing slows to 10 b/s: after a full window the old fast samples no longer count.
    for i in range(1, 12):
        tracker.add(Sample(T0 + 100 + i, head=10**6, height=100_000 + 10 * i))
    assert tracker.speed == pytest.approx(10)
    assert len(tracker._samples) <= 11


def test_memory_is_bounded() -> None:
    tracker = CatchupTracker(window_seconds=10**9, max_samples=50)
    feed(tracker, 1000, height0=0, rate=1, head0=2000, head_rate=0)
    assert len(tracker._samples) == 50
    assert tracker.speed == pytest.approx(1)


def test_out_of_order_sample_is_ignored() -> None:
    tracker = CatchupTracker()
    tracker.add(Sample(T0 + 10, head=100, height=50))
    tracker.add(Sample(T0, head=999, height=1))
    assert tracker.height == 50 and tracker.head == 100


def test_progress_from_first_height_or_given_start() -> None:
    tracker = CatchupTracker()
    assert tracker.progress is None
    tracker.add(Sample(T0, head=1100, height=100))
    assert tracker.progress == 0.0
    tracker.add(Sample(T0 + 1, head=1100, height=600))
    assert tracker.progress == pytest.approx(0.5)
    tracker.add(Sample(T0 + 2, head=1100, height=1100))
    assert tracker.progress == 1.0
    from_zero = CatchupTracker(start_height=0)
    from_zero.add(Sample(T0, head=1000, height=250))
    assert from_zero.progress == pytest.approx(0.25)


def test_stalled_only_when_behind_and_flat_for_stall_seconds() -> None:
    tracker = CatchupTracker(stall_seconds=60)
    tracker.add(Sample(T0, head=1000, height=500))
    tracker.add(Sample(T0 + 30, head=1000, height=500))
    assert not tracker.stalled(T0 + 59)
    assert tracker.stalled(T0 + 60)
    assert tracker.seconds_since_progress(T0 + 75) == pytest.approx(75)
    tracker.add(Sample(T0 + 61, head=1000, height=501))  # progress resets the stall clock
    assert not tracker.stalled(T0 + 100)
    assert tracker.stalled(T0 + 121)


def test_restarting_the_stall_clock_forgives_time_the_service_could_not_run() -> None:
    tracker = CatchupTracker(stall_seconds=60)
    tracker.add(Sample(T0, head=1000, height=500))
    tracker.add(Sample(T0 + 50, head=1050, height=500))  # a Docker daemon restart: no progress
    tracker.restart_stall_clock(T0 + 70)  # watched again
    assert not tracker.stalled(T0 + 100)
    assert tracker.stalled(T0 + 130)  # a real stall after it still counts
    fresh = CatchupTracker(stall_seconds=60)
    fresh.restart_stall_clock(T0)  # nothing seen yet: nothing to restart
    assert fresh.seconds_since_progress(T0 + 5) is None


def test_caught_up_and_flat_is_not_stalled() -> None:
    tracker = CatchupTracker(stall_seconds=10)
    tracker.add(Sample(T0, head=1000, height=1000))
    assert not tracker.stalled(T0 + 3600)


def test_milestones_reported_once_and_not_below_start() -> None:
    tracker = CatchupTracker()
    assert tracker.crossed_milestones(1_000_000) == []
    tracker.add(Sample(T0, head=9_000_000, height=3_200_000))
    assert tracker.crossed_milestones(1_000_000) == []
    tracker.add(Sample(T0 + 1, head=9_000_000, height=3_999_999))
    assert tracker.crossed_milestones(1_000_000) == []
    tracker.add(Sample(T0 + 2, head=9_000_000, height=4_000_000))
    assert tracker.crossed_milestones(1_000_000) == [4_000_000]
    assert tracker.crossed_milestones(1_000_000) == []
    tracker.add(Sample(T0 + 3, head=9_000_000, height=6_500_000))
    assert tracker.crossed_milestones(1_000_000) == [5_000_000, 6_000_000]
    assert tracker.crossed_milestones(0) == []


def test_milestones_capped_and_reset_after_height_goes_back() -> None:
    tracker = CatchupTracker()
    tracker.add(Sample(T0, head=10**6, height=0))
    tracker.add(Sample(T0 + 1, head=10**6, height=1000))
    crossed = tracker.crossed_milestones(10)
    assert len(crossed) == MAX_MILESTONES_PER_CALL
    assert crossed[-1] == 1000
    tracker.add(Sample(T0 + 2, head=10**6, height=5))  # database reset: re-index from scratch
    tracker.add(Sample(T0 + 3, head=10**6, height=25))
    assert tracker.crossed_milestones(10) == [10, 20]


def test_rejects_non_positive_window() -> None:
    with pytest.raises(ValueError):
        CatchupTracker(window_seconds=0)
