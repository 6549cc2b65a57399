"""The kept inspect's rules (agent/container_cache.py) and the event feed's bookkeeping
(drivers/docker/events.py), on small fakes: the real stream is tests/integration/
test_container_events.py."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from console.agent.container_cache import InspectCache
from console.core.contracts.runtime import ContainerInfo, Runtime, RuntimeNotAnswering
from console.drivers.docker.events import ContainerFeed

INFO = ContainerInfo(
    "web-blue", "abc", "web:v1", {}, "running", True, None, None, 0, 1.0, None, None, False
)


class EventsRuntime:
    """A runtime with a change token the test moves by hand."""

    def __init__(self) -> None:
        self.token: object | None = (1, 0, 0)
        self.inspects = 0
        self.fail = False

    def change_token(self, name: str) -> object | None:
        return self.token

    def inspect(self, name: str) -> ContainerInfo | None:
        self.inspects += 1
        if self.fail:
            raise RuntimeNotAnswering("The Docker Engine did not answer within 5 s.")
        return INFO


class KeptRuntime(EventsRuntime):
    """One whose token is also known without asking (the engine answered a ping this second)."""

    def __init__(self) -> None:
        super().__init__()
        self.fresh = True

    def fresh_change_token(self, name: str) -> object | None:
        return self.token if self.fresh else None


class PlainRuntime:
    """A runtime without events (the Swarm one, say)."""

    def __init__(self) -> None:
        self.inspects = 0

    def inspect(self, name: str) -> ContainerInfo | None:
        self.inspects += 1
        return INFO


def _cache(runtime: object, now: list[float]) -> InspectCache:
    engine = cast(Runtime, runtime)
    return InspectCache(lambda: engine, "web-blue", refresh_seconds=15.0, clock=lambda: now[0])


def test_kept_while_the_token_holds_asked_again_when_it_moves_or_is_missing() -> None:
    runtime, now = EventsRuntime(), [0.0]
    cache = _cache(runtime, now)
    assert cache.read() == INFO and runtime.inspects == 1
    for _ in range(5):
        assert cache.read() == INFO
    assert runtime.inspects == 1 and cache.kept == 5
    runtime.token = (1, 0, 1)  # an event about the container
    cache.read()
    assert runtime.inspects == 2
    runtime.token = None  # the stream is down: nothing vouches for the kept answer
    cache.read()
    cache.read()
    assert runtime.inspects == 4
    runtime.token = (2, 0, 1)  # reconnected: a new epoch, inspected once, then kept
    cache.read()
    cache.read()
    assert runtime.inspects == 5


def test_inspected_again_after_the_refresh_period_and_after_a_failure() -> None:
    runtime, now = EventsRuntime(), [0.0]
    cache = _cache(runtime, now)
    cache.read()
    now[0] = 14.9
    cache.read()
    assert runtime.inspects == 1
    now[0] = 15.0
    cache.read()
    assert runtime.inspects == 2
    runtime.fail, runtime.token = True, (1, 0, 9)  # an event, and the engine does not answer
    with pytest.raises(RuntimeNotAnswering):
        cache.read()
    runtime.fail = False
    cache.read()  # the failed inspect kept nothing: asked again
    assert runtime.inspects == 4


def test_a_vouched_inspect_is_known_on_the_asking_thread() -> None:
    runtime, now = KeptRuntime(), [0.0]
    cache = _cache(runtime, now)
    assert cache.known() == (False, None)  # nothing inspected yet
    cache.read()
    assert cache.known() == (True, INFO) and runtime.inspects == 1
    runtime.fresh = False  # no ping this second: only the sampler's thread may ask
    assert cache.known() == (False, None)
    runtime.fresh = True
    runtime.token = (1, 0, 1)  # an event about the container
    assert cache.known() == (False, None)
    cache.read()
    now[0] = 15.0  # the periodic inspect is due
    assert cache.known() == (False, None)
    assert _cache(EventsRuntime(), now).known() == (False, None)  # no fresh tokens to give


def test_a_runtime_without_events_is_inspected_every_time() -> None:
    runtime, now = PlainRuntime(), [0.0]
    cache = _cache(runtime, now)
    for _ in range(3):
        assert cache.read() == INFO
    assert runtime.inspects == 3 and cache.kept == 0


def _feed(ping: Any = lambda: True) -> ContainerFeed:
    def call(operation: Any) -> Any:
        class Api:
            def ping(self) -> Any:
                return ping()

        class Client:
            api = Api()

        return operation(Client())

    feed = ContainerFeed(call)
    feed._thread = threading.current_thread()  # no stream thread: the test feeds the events
    feed._connected = True
    return feed


def test_events_move_their_container_s_token_only_and_exec_events_move_none() -> None:
    feed = _feed()
    blue, green = feed.change_token("web-blue"), feed.change_token("web-green")
    feed._note({"Action": "exec_start: sh -c curl", "Actor": {"Attributes": {"name": "web-blue"}}})
    assert feed.change_token("web-blue") == blue
    feed._note({"Action": "die", "Actor": {"Attributes": {"name": "web-blue"}}})
    assert feed.change_token("web-blue") != blue and feed.change_token("web-green") == green
    blue = feed.change_token("web-blue")
    feed._note(
        {"Action": "rename", "Actor": {"Attributes": {"name": "x", "oldName": "/web-green"}}}
    )
    assert feed.change_token("web-green") != green and feed.change_token("web-blue") == blue
    feed._note({"Action": "die", "Actor": {}})  # no name: every container is asked again
    assert feed.change_token("web-blue") != blue
    feed._connected = False
    assert feed.change_token("web-blue") is None


def test_one_ping_vouches_for_every_reader_of_that_second_and_its_failure_fails_them() -> None:
    pings: list[int] = []

    def ping() -> bool:
        pings.append(1)
        return True

    feed = _feed(ping)
    for _ in range(5):
        feed.change_token("web-blue")
    assert len(pings) == 1

    def hung() -> bool:
        raise RuntimeNotAnswering("The Docker Engine did not answer within 5 s.")

    failing = _feed(hung)
    with pytest.raises(RuntimeNotAnswering):
        failing.change_token("web-blue")


def test_a_fresh_token_only_right_after_a_ping_that_answered() -> None:
    feed = _feed()
    assert feed.fresh_token("web-blue") is None  # never pinged
    token = feed.change_token("web-blue")  # pings
    assert feed.fresh_token("web-blue") == token
    feed._ping_ok_started -= 2  # a second later: the next reader must ping again
    assert feed.fresh_token("web-blue") is None
    feed._ping_ok_started += 2
    feed._connected = False
    assert feed.fresh_token("web-blue") is None
