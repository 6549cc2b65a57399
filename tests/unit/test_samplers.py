"""The agent's samplers: one thread per part, never overlapping itself; a hung read leaves the
previous reading in place and shows how long the part has been silent."""

from __future__ import annotations

import threading
import time

from console.agent.samplers import Sampler, sample_round
from console.core.model import PartReading, SlotStatus


def test_a_reading_carries_its_value_and_when_it_was_answered() -> None:
    sampler: Sampler[int] = Sampler("height", "the blue database", lambda: 42)
    try:
        sample_round([sampler], 2.0)
        reading = sampler.latest()
        assert reading.value == 42 and reading.error is None and reading.answered
        assert time.time() - reading.answered_at < 2.0
        assert sampler.published().silent_for(time.time()) is None
    finally:
        sampler.close()


def test_a_hung_part_keeps_its_last_value_and_is_stale_without_blocking_the_round() -> None:
    release = threading.Event()
    calls = {"n": 0}

    def read() -> int:
        calls["n"] += 1
        if calls["n"] > 1:
            release.wait(10)  # the second read hangs until released
        return calls["n"]

    hung: Sampler[int] = Sampler("docker", "Docker", read, stale_after=0.2)
    fast: Sampler[int] = Sampler("head", "the chain head", lambda: 7)
    try:
        sample_round([hung, fast], 2.0)
        assert hung.latest().value == 1
        started = time.monotonic()
        for _ in range(5):  # five ticks while the part hangs
            sample_round([hung, fast], 0.1)
        assert time.monotonic() - started < 1.5  # each round waits its budget, never the part
        assert calls["n"] == 2  # never overlapped: one read in flight, the requests folded
        assert fast.latest().value == 7 and fast.latest().answered
        reading = hung.published()
        assert hung.latest().value == 1  # last known kept
        assert reading.stale(time.time())
        assert reading.describe(time.time()).startswith("Docker not answering for ")
        release.set()
        sample_round([hung], 2.0)
        assert hung.latest().answered and not hung.published().stale(time.time())
    finally:
        release.set()
        hung.close()
        fast.close()


def test_a_failing_part_records_the_error_and_stays_silent_since_its_first_failure() -> None:
    def read() -> int:
        raise RuntimeError("The blue database is unreachable (connection refused); retrying.")

    sampler: Sampler[int] = Sampler("height", "the blue database", read, stale_after=0.0)
    try:
        sample_round([sampler], 2.0)
        first = sampler.latest()
        sample_round([sampler], 2.0)
        second = sampler.latest()
        assert second.error and "connection refused" in second.error
        assert second.value is None and not second.answered
        assert first.waiting_since == second.waiting_since  # silent since the first failure
        assert second.round == first.round + 1
    finally:
        sampler.close()


def test_a_status_names_only_its_stale_parts() -> None:
    now = 1000.0
    status = SlotStatus(
        "blue",
        readings=(
            PartReading("docker", "Docker", 988.0, 988.0, "did not answer", 3.0),
            PartReading("height", "the blue database", 999.5, None, None, 3.0),
        ),
    )
    assert [r.part for r in status.stale_parts(now)] == ["docker"]
    assert status.is_stale("docker", now) and not status.is_stale("height", now)
    assert status.stale_parts(now)[0].describe(now) == "Docker not answering for 12 s"


def test_status_names_a_silent_part_by_the_clients_clock_and_json_carries_ages() -> None:
    from console.cli.render import slot_json
    from console.core.service import _with_stale_parts

    status = SlotStatus(
        "green",
        reason="Docker unavailable: The Docker Engine did not answer within 5 s; retry.",
        readings=(PartReading("docker", "Docker", 988.0, 988.0, "did not answer", 3.0),),
    )
    shown = _with_stale_parts(status, 1000.0)
    assert shown.reason is not None
    assert shown.reason.startswith("Docker not answering for 12 s (values as last seen).")
    assert shown.reason.endswith("did not answer within 5 s; retry.")
    fresh = _with_stale_parts(status, 990.0)  # silent 2 s: not yet stale
    assert fresh.reason == status.reason
    reading = slot_json(status, 1000.0)["readings"][0]
    assert reading == {
        "part": "docker",
        "label": "Docker",
        "answered_at": 988.0,
        "not_answering_seconds": 12.0,
        "stale": True,
        "error": "did not answer",
    }
