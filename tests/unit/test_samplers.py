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


def test_a_part_known_without_io_is_answered_on_the_asking_thread() -> None:
    """`kept` answers (a container's inspect the engine's events vouch for): no read on the
    sampler's thread; when it cannot tell, the thread reads as before."""
    known = {"yes": True}
    reads: list[str] = []

    def read() -> int:
        reads.append(threading.current_thread().name)
        return 1

    sampler: Sampler[int] = Sampler(
        "docker", "Docker", read, kept=lambda: (True, 2) if known["yes"] else (False, None)
    )
    try:
        started = time.monotonic()
        sample_round([sampler], 2.0)
        assert time.monotonic() - started < 0.5
        assert sampler.latest().value == 2 and sampler.latest().answered
        assert sampler.latest().round == 1 and reads == []
        known["yes"] = False
        sample_round([sampler], 2.0)
        assert sampler.latest().value == 1 and reads == ["sample-docker"]
    finally:
        sampler.close()


def test_a_quick_part_is_read_on_the_asking_thread_until_it_does_not_answer() -> None:
    """`quick` (the nginx admin's colour): read on the asking thread while it answers; one that
    does not is read by the sampler's thread, which alone is asked for the back-off — and a
    part the thread is still waiting for is never asked on the asking thread."""
    answers = {"quick": True}
    quick_on: list[str] = []
    reads: list[str] = []
    release = threading.Event()

    def quick() -> tuple[bool, int | None]:
        quick_on.append(threading.current_thread().name)
        return (True, 2) if answers["quick"] else (False, None)

    def read() -> int:
        reads.append(threading.current_thread().name)
        release.wait(10)
        return 1

    sampler: Sampler[int] = Sampler("proxy", "the proxy", read, quick=quick)
    try:
        for _ in range(3):
            sample_round([sampler], 2.0)
        asker = threading.current_thread().name
        assert quick_on == [asker] * 3 and reads == []
        assert sampler.latest().value == 2 and sampler.latest().round == 3
        answers["quick"] = False  # as a read past QUICK_READ_SECONDS
        sample_round([sampler], 0.2)  # the thread reads now, and hangs
        assert reads == ["sample-proxy"] and len(quick_on) == 4
        answers["quick"] = True
        sample_round([sampler], 0.1)  # backing off: not asked here, the thread's read folded
        assert len(quick_on) == 4 and reads == ["sample-proxy"]
        assert sampler.latest().waiting_since is not None and sampler.latest().value == 2
        release.set()
        sample_round([sampler], 2.0)
        assert sampler.latest().value == 1 and sampler.latest().answered
    finally:
        release.set()
        sampler.close()


def test_a_quick_part_is_not_asked_while_its_thread_waits_for_it() -> None:
    release = threading.Event()
    quick_calls = {"n": 0}

    def quick() -> tuple[bool, int | None]:
        quick_calls["n"] += 1
        return True, 2

    sampler: Sampler[int] = Sampler("proxy", "the proxy", lambda: release.wait(10) and 1)
    sampler._quick = quick  # a thread read already in flight when the quick path is asked
    try:
        sampler._wake.set()
        deadline = time.monotonic() + 2
        while sampler.latest().waiting_since is None and time.monotonic() < deadline:
            time.sleep(0.01)
        sample_round([sampler], 0.1)
        assert quick_calls["n"] == 0  # the thread's read stands; nothing read twice
        release.set()
        deadline = time.monotonic() + 5
        while quick_calls["n"] == 0 and time.monotonic() < deadline:
            sample_round([sampler], 0.5)  # once the thread is done, the asking thread reads
        assert quick_calls["n"] == 1 and sampler.latest().value == 2
    finally:
        release.set()
        sampler.close()


def test_a_round_ends_when_its_last_part_answered_and_never_waits_past_its_budget() -> None:
    release = threading.Event()
    slow: Sampler[int] = Sampler("traffic", "the counters", lambda: release.wait(0.3) and 0)
    fast: Sampler[int] = Sampler("head", "the chain head", lambda: 7)
    hung: Sampler[int] = Sampler("docker", "Docker", lambda: release.wait(10) and 0)
    try:
        started = time.monotonic()
        sample_round([fast, slow], 2.0)
        took = time.monotonic() - started
        assert 0.25 < took < 1.0  # waited for the slow part, then at once
        assert slow.latest().round == 1 and fast.latest().round == 1
        started = time.monotonic()
        for _ in range(10):  # a hung part: each round waits its budget, and no more
            sample_round([fast, hung], 0.05)
        assert time.monotonic() - started < 1.5
        assert fast.latest().round == 11
        assert len(hung._rounds) <= 4  # it keeps telling only the last few rounds
    finally:
        release.set()
        for sampler in (slow, fast, hung):
            sampler.close()
