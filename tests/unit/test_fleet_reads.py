"""The overview's per-service reader thread: what it keeps for the next draw, and that one hung or
failing service stays its own row's news."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from console.core.model import AgentInfo, EventRecord, Status
from console.tui.fleet_reads import Answer, ServiceReader

NOW = 1_750_000_000.0


class Store:
    """Stands in for a service's console: status and events, as the overview asks for them."""

    def __init__(self) -> None:
        self.events_after: list[int] = []
        self.new_events: list[EventRecord] = []
        self.fail: Exception | None = None
        self.hang = threading.Event()
        self.hung = False

    def status(self) -> Status:
        if self.hung:
            self.hang.wait(30)
        if self.fail is not None:
            raise self.fail
        return Status("web", "blue", None, {}, AgentInfo(True, 1, NOW, NOW), None, at=NOW)

    def events(self, after_id: int = 0) -> list[EventRecord]:
        self.events_after.append(after_id)
        new, self.new_events = self.new_events, []
        return new


def reader_for(store: Store) -> ServiceReader:
    reader = ServiceReader("web", store, poll_seconds=0.01)  # type: ignore[arg-type]
    reader.start()
    return reader


def next_answer(reader: ServiceReader, check: Callable[[Answer], bool] = bool) -> Answer:
    deadline = time.monotonic() + 10  # guards against a hang only
    while time.monotonic() < deadline:
        answer = reader.take()
        if answer is not None and check(answer):
            return answer
        time.sleep(0.005)
    raise AssertionError("no answer within 10 s")


def test_it_keeps_the_newest_status_and_asks_only_for_new_events() -> None:
    store = Store()
    store.new_events = [EventRecord(7, NOW, "switch", "info", "switched", "agent")]
    reader = reader_for(store)
    try:
        answer = next_answer(reader)
        assert answer.status is not None and answer.status.service == "web"
        assert answer.error is None
        next_answer(reader, lambda a: a.last_event == 7)
        deadline = time.monotonic() + 10
        while 7 not in store.events_after and time.monotonic() < deadline:
            time.sleep(0.005)
        assert store.events_after[0] == 0 and 7 in store.events_after
    finally:
        reader.stop()


def test_a_failing_read_is_one_sentence_on_its_answer() -> None:
    store = Store()
    store.fail = OSError("database is locked")
    reader = reader_for(store)
    try:
        answer = next_answer(reader)
        assert answer.status is None
        assert answer.error == "Cannot read its status: database is locked"
    finally:
        reader.stop()


def test_a_drift_not_yet_taken_survives_the_next_read() -> None:
    store = Store()
    drift = EventRecord(3, NOW - 5, "drift", "warning", "proxy said green", "agent")
    store.new_events = [drift]
    reader = reader_for(store)
    try:
        time.sleep(0.2)  # several reads answer before the overview takes one
        answer = next_answer(reader)
        assert answer.drift_at == NOW - 5 and answer.last_event == 3
    finally:
        reader.stop()


def test_a_hung_read_shows_how_long_it_has_been_asked() -> None:
    store = Store()
    reader = reader_for(store)
    try:
        next_answer(reader)
        store.hung = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            asked = reader.asked_at
            if asked is not None and time.monotonic() - asked > 0.2:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the hung read was never shown as in flight")
        reader.take()  # what answered before the hang
        time.sleep(0.05)
        assert reader.take() is None  # nothing new while it hangs
    finally:
        reader.stop()
        store.hang.set()
