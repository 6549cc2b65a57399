"""The agent's stop watch: a stop that outlasts its grace logs the main thread's stack once; a
stop within it logs nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from console.agent.stop_watch import StopWatch


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_stop_that_outlasts_its_grace_logs_where_the_main_thread_is() -> None:
    lines: list[str] = []
    stopping = threading.Event()
    watch = StopWatch(stopping, lines.append, grace=0.2)
    stopping.set()
    assert _wait_for(lambda: bool(lines))
    assert "Still stopping" in lines[0]
    assert "test_a_stop_that_outlasts_its_grace" in lines[0]  # this test is the main thread here
    watch.done()
    time.sleep(0.3)
    assert len(lines) == 1


def test_a_quick_stop_logs_nothing() -> None:
    lines: list[str] = []
    stopping = threading.Event()
    watch = StopWatch(stopping, lines.append, grace=0.3)
    stopping.set()
    watch.done()
    time.sleep(0.6)
    assert lines == []
    assert not watch._thread.is_alive()
