"""Shared fixtures for the TUI tests: a fixed timezone (clock times in snapshots) and helpers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.app import BluegreenApp
from console.tui.widgets.log_pane import LogPane


@pytest.fixture(autouse=True)
def utc_timezone() -> Iterator[None]:
    """Clock times on screen depend on the local zone; pin it so snapshots are stable."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0
) -> None:
    """Let the app run until `condition` holds (a thread worker's result has been handled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not reach the expected state in time")
        await pilot.pause(0.02)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the first poll to be drawn and the first log lines to be written."""
    app = pilot.app
    assert isinstance(app, BluegreenApp)
    await wait_until(pilot, lambda: app.status is not None or app.degraded is not None)
    pane = app.main.query_one(LogPane)
    await wait_until(pilot, lambda: bool(pane.lines) or app.degraded is not None)
    await pilot.pause()


async def wait_for_operation(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, BluegreenApp)
    operations = [worker for worker in app.workers if worker.group == "operation"]
    if operations:  # an empty list would mean "every worker", log followers included
        await app.workers.wait_for_complete(operations)
    await wait_until(pilot, lambda: app.action_running is None)
