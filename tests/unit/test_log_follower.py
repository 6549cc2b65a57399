"""The agent's log follower on a fake runtime: the newest error-like line among the kept ones
explains a failure; its stream is closed by the stop signal itself (no watcher thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import cast

from console.agent.log_follower import LogFollower
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
