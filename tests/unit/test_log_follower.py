"""The agent's log watches on a fake runtime: the newest error-like line among the last ones
explains a failure; a follower's stream is closed by the stop signal itself (no watcher thread);
a colour whose lines nothing reads one by one is not followed, its tail fetched when a failure
asks (the real engine: tests/integration/test_error_tail.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import cast

from console.agent.log_follower import (
    ERROR_TAIL_FIRST_WAIT_SECONDS,
    ERROR_TAIL_REFRESH_SECONDS,
    ErrorTail,
    LogFollower,
    watch_logs,
)
from console.core.contracts.runtime import Runtime
from console.core.redact import Redactor
from console.drivers.docker.streams import StopSignal


class ScriptedLogs:
    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.stops: list[threading.Event] = []

    def follow_logs(self, name: str, stop: threading.Event, tail: int = 0) -> Iterator[bytes]:
        self.stops.append(stop)
        yield from self.lines
        stop.wait()  # a live container: the stream ends only when stopped


def follow(lines: list[bytes]) -> tuple[LogFollower, ScriptedLogs]:
    runtime = ScriptedLogs(lines)
    follower = LogFollower(lambda: cast(Runtime, runtime), Redactor(), "web-blue", "")
    deadline = time.monotonic() + 5
    while follower.lines < len(lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    return follower, runtime


def test_the_newest_error_line_among_the_kept_ones() -> None:
    lines = [b"starting", b"ERROR db refused", b"retrying", b"panic: gone", b"ok"]
    follower, runtime = follow(lines)
    try:
        assert follower.last_error() == "panic: gone"
        assert isinstance(runtime.stops[0], StopSignal)
    finally:
        follower.stop()


def test_an_error_line_pushed_out_of_the_kept_lines_explains_nothing() -> None:
    follower, _ = follow([b"FATAL: first"] + [b"fine %d" % i for i in range(60)])
    try:
        assert follower.lines == 61
        assert follower.last_error() is None
    finally:
        follower.stop()


# ── a colour whose lines nothing reads one by one: the tail, fetched when a failure asks ──


class TailLogs:
    """`logs(tail=…)` as the engine answers it: the last lines, or a wait while it hangs."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.asked: list[int] = []
        self.answer = threading.Event()
        self.answer.set()
        self.fails = False

    def logs(self, name: str, tail: int = 300, since: float | None = None) -> list[bytes]:
        self.asked.append(tail)
        self.answer.wait()
        if self.fails:
            raise RuntimeError("engine gone")
        return self.lines[-tail:]

    def follow_logs(self, name: str, stop: threading.Event, tail: int = 0) -> Iterator[bytes]:
        raise AssertionError("an error tail never follows")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tail_of(runtime: TailLogs, clock: Clock) -> ErrorTail:
    return ErrorTail(lambda: cast(Runtime, runtime), Redactor(["s3cret"]), "web-blue", clock)


def wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_logs_are_followed_only_where_every_line_is_read() -> None:
    runtime = ScriptedLogs([])
    get = cast(Callable[[], Runtime], lambda: runtime)
    follower = watch_logs(get, Redactor(), "web-blue", "catchup completed")
    try:
        assert isinstance(follower, LogFollower)
    finally:
        follower.stop()
    assert isinstance(watch_logs(get, Redactor(), "web-blue", ""), ErrorTail)


def test_an_error_tail_reads_nothing_until_a_failure_asks() -> None:
    runtime = TailLogs([b"starting", b"ERROR db refused password=s3cret", b"ok"])
    tail = tail_of(runtime, Clock())
    assert runtime.asked == [] and tail.pattern_seen is None
    # The first ask waits for the tail: the failure's first event carries its line, redacted.
    assert tail.last_error() == "ERROR db refused password=***"
    assert runtime.asked == [50]  # the lines a follower would have kept


def test_an_error_tail_is_fetched_again_at_most_every_refresh() -> None:
    runtime, clock = TailLogs([b"ERROR first"]), Clock()
    tail = tail_of(runtime, clock)
    assert tail.last_error() == "ERROR first"
    runtime.lines = [b"ERROR first", b"panic: second"]
    clock.now += ERROR_TAIL_REFRESH_SECONDS - 1
    assert tail.last_error() == "ERROR first" and tail.fetches == 1  # asked every tick: cached
    clock.now += 1
    tail.last_error()  # due: a fetch starts, this ask answers from the last one
    wait_until(lambda: tail.fetches == 2)
    assert tail.last_error() == "panic: second"


def test_an_error_pushed_out_of_the_last_lines_explains_nothing() -> None:
    tail = tail_of(TailLogs([b"FATAL: first"] + [b"fine %d" % i for i in range(60)]), Clock())
    assert tail.last_error() is None


def test_a_hung_engine_costs_the_first_ask_its_wait_only() -> None:
    runtime, clock = TailLogs([b"ERROR late"]), Clock()
    runtime.answer.clear()  # the engine does not answer
    tail = tail_of(runtime, clock)
    started = time.monotonic()
    assert tail.last_error() is None
    assert time.monotonic() - started < ERROR_TAIL_FIRST_WAIT_SECONDS + 0.5
    started = time.monotonic()
    assert tail.last_error() is None and runtime.asked == [50]  # one fetch in flight, not two
    assert time.monotonic() - started < ERROR_TAIL_FIRST_WAIT_SECONDS / 2  # no second wait
    runtime.answer.set()
    wait_until(lambda: tail.fetches == 1)
    assert tail.last_error() == "ERROR late"


def test_a_failed_fetch_keeps_the_last_line_and_is_tried_again_later() -> None:
    runtime, clock = TailLogs([b"ERROR kept"]), Clock()
    tail = tail_of(runtime, clock)
    assert tail.last_error() == "ERROR kept"
    runtime.fails = True
    clock.now += ERROR_TAIL_REFRESH_SECONDS
    tail.last_error()
    wait_until(lambda: tail.fetches == 2)
    assert tail.last_error() == "ERROR kept"
    tail.stop()
    clock.now += ERROR_TAIL_REFRESH_SECONDS
    tail.last_error()
    assert len(runtime.asked) == 2  # stopped: never fetched again
