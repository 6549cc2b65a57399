"""An idle colour's container is not inspected every tick, yet its death is still seen: Docker's
event stream (drivers/docker/events.py) invalidates the colour's kept inspect
(agent/container_cache.py). On the real engine, through the colour's own watcher (SlotWatch) as
the agent's tick drives it; the periodic re-inspect is pushed out of reach (an hour), so only the
event path — or a reconnection — can make the watcher look again.

Never trusting a dead stream is checked with the stream cut and held down: every read inspects
while it is down, and after the reconnection everything is inspected again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from console.agent.slot_watch import SlotWatch
from console.core.config.load import parse_config
from console.core.model import SlotState, SlotStatus
from console.core.redact import Redactor
from console.drivers.docker.events import ContainerFeed, feed_for
from console.drivers.docker.runtime import DockerRuntime
from tests.integration.script_containers import script_container

PREFIX = "bgtest-events-"
SLEEPER = "import time\nwhile True: time.sleep(1)"
HANG_GUARD_SECONDS = 60.0  # only against a hang: each step takes well under a second
CONFIG = """
service = "events"
state_dir = "{state}"
[image]
repository = "bluegreen-base"
[slots.blue]
container = "{container}"
host_port = {port}
[slots.green]
container = "{prefix}green-absent"
host_port = 1
[candidate]
kind = "none"
[resources]
stats = false
"""


@pytest.fixture
def watched(tmp_path: Any) -> Iterator[tuple[SlotWatch, ContainerFeed, str]]:
    """A running container, its colour's watcher (kept inspects good for an hour) and the
    process's event feed for the engine."""
    runtime = DockerRuntime()
    with script_container(PREFIX, "blue", SLEEPER, env={}, labels={}) as (name, port):
        config = parse_config(
            CONFIG.format(state=tmp_path / "state", container=name, port=port, prefix=PREFIX)
        )
        watch = SlotWatch(config, "blue", lambda: runtime, Redactor())
        watch.inspects.refresh_seconds = 3600.0
        try:
            yield watch, feed_for(runtime.where, lambda: runtime._call), name
        finally:
            watch.close()


def _tick(watch: SlotWatch) -> SlotStatus:
    """What one full tick does with the colour's Docker part: ask, wait, compose."""
    round_ = watch.docker.request()
    assert watch.docker.wait_past(round_, time.monotonic() + HANG_GUARD_SECONDS)
    return watch.observe(time.time(), None, "blue", None, None)


def _kept_after_a_tick(watch: SlotWatch, kept: int) -> bool:
    _tick(watch)
    return watch.inspects.kept > kept


def _until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def _kept_once_idle(watch: SlotWatch, feed: ContainerFeed) -> None:
    """Tick until a tick is answered from the kept inspect (the stream connected, the engine
    answering its ping, nothing happened to the container since it was inspected)."""
    _tick(watch)  # the first read starts the process's stream
    _until("the stream connects", lambda: feed.connected)
    _until("an idle tick keeps its inspect", lambda: _kept_after_a_tick(watch, 0))
    inspected = watch.inspects.inspected
    for _ in range(3):  # idle: however many ticks, no inspect
        assert _tick(watch).container_state == "running"
    assert watch.inspects.inspected == inspected


def test_an_idle_container_that_dies_is_seen_through_the_event_stream(
    watched: tuple[SlotWatch, ContainerFeed, str],
) -> None:
    watch, feed, name = watched
    _kept_once_idle(watch, feed)
    inspected, events = watch.inspects.inspected, feed.events
    docker.from_env().containers.get(name).kill()
    _until("the death arrives as an event", lambda: feed.events > events)
    status = _tick(watch)
    assert status.container_state == "exited"
    assert status.state in (SlotState.STOPPED, SlotState.FAILED)
    assert watch.inspects.inspected == inspected + 1  # the event, not the hourly re-inspect
    print(f"seen after {feed.events - events} event(s), one inspect")


def test_a_cut_stream_is_not_trusted_and_everything_is_inspected_after_it_reconnects(
    watched: tuple[SlotWatch, ContainerFeed, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    watch, feed, name = watched
    _kept_once_idle(watch, feed)
    held = threading.Event()
    release = threading.Event()
    open_stream = feed._open

    def held_down(client: docker.DockerClient) -> Any:
        held.set()
        release.wait()
        return open_stream(client)

    monkeypatch.setattr(feed, "_open", held_down)
    connects = feed.connects
    feed.cut()  # as a daemon restart closes it; the reconnection is held back
    try:
        _until("the stream tries to reconnect", held.is_set)
        assert not feed.connected
        inspected = watch.inspects.inspected
        for _ in range(3):  # down: nothing vouches for the kept inspect, each tick asks
            assert _tick(watch).container_state == "running"
        assert watch.inspects.inspected == inspected + 3
        docker.from_env().containers.get(name).kill()  # while no stream could say so
        assert _tick(watch).container_state == "exited"
    finally:
        release.set()
    _until("the stream is back", lambda: feed.connected and feed.connects > connects)
    inspected = watch.inspects.inspected
    assert _tick(watch).container_state == "exited"
    assert watch.inspects.inspected == inspected + 1  # a new stream: inspected again
    kept = watch.inspects.kept
    _until("kept again once idle", lambda: _kept_after_a_tick(watch, kept))
