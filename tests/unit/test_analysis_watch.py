"""The agent's analysis watch on a real store, with a fake proxy reading and a fake rollback (the
real rollback path runs in tests/integration/test_analysis_rollback.py): polls every interval on
the traffic since the switch, an event each, a rollback at failure_limit with the figures, a
quiet colour never rolled back, and the pre-switch gate on the idle colour's own traffic."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from console.agent.analysis_base import AnalysisParts
from console.agent.analysis_watch import AnalysisWatch
from console.agent.canary_analysis import CanaryAnalysis
from console.agent.samplers import Sampled
from console.agent.slot_compose import TickInputs
from console.core.config.load import parse_config
from console.core.config.schema import Config
from console.core.gate.analysis import PRE_SWITCH_CONDITION
from console.core.lock import LockHeld
from console.core.measures.traffic import LATENCY_BOUNDS_MS, ColourCounters, TrafficSnapshot
from console.core.model import (
    Actor,
    Color,
    Condition,
    Outcome,
    Phase,
    SlotState,
    SlotStatus,
    SwitchPolicy,
)
from console.core.store.store import Store

AGENT = Actor("agent")
CONFIG = """
[image]
repository = "webapp"
[slots.blue]
container = "w-blue"
host_port = 18081
[slots.green]
container = "w-green"
host_port = 18082
[candidate]
kind = "none"
[switch]
watch_seconds = 30
[analysis]
interval_seconds = 2
window_seconds = 4
max_error_rate = 0.05
max_p99_ratio = 3
failure_limit = 2
min_requests = 10
"""


class FakeTraffic:
    """The traffic sampler as the agent sees it: its latest reading."""

    def __init__(self) -> None:
        self.snapshot: TrafficSnapshot | None = None
        self.error: str | None = None

    def latest(self) -> Sampled[TrafficSnapshot | None]:
        return Sampled(self.snapshot, 1.0, None, self.error, 1)

    def stale(self, now: float) -> bool:
        return False


@dataclass
class FakeNotifier:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, kind: str, text: str, level: str = "info") -> None:
        self.sent.append((kind, text))


class FakeLock:
    held_for = 0  # how many attempts find the lock held by an operator

    @contextmanager
    def acquire(self, action: str, actor: Actor) -> Iterator[None]:
        if self.held_for > 0:
            self.held_for -= 1
            raise LockHeld(None)
        yield


@dataclass
class FakeActs:
    """The core's rollback and canary abort as the agent loop binds them, on the real store: what
    they would leave in it, and the reasons they were given."""

    store: Store
    rollbacks: list[str] = field(default_factory=list)
    aborts: list[str] = field(default_factory=list)

    def rollback(self, reason: str) -> Iterator[Outcome]:
        self.rollbacks.append(reason)
        self.store.set_live("blue", "green")
        self.store.set_watch("green", 0.0)
        yield Outcome(True, "Rollback green → blue.")

    def abort(self, reason: str) -> Iterator[Outcome]:
        self.aborts.append(reason)
        self.store.set_canary(None)
        yield Outcome(True, "Canary aborted.")


def make_world(store: Store, config: Config, auto_rollback: bool = True) -> dict[str, Any]:
    """An analysis watch on the real store with fakes of the other parts it is handed."""
    traffic, notifier, lock, acts = FakeTraffic(), FakeNotifier(), FakeLock(), FakeActs(store)
    parts = AnalysisParts(
        config.analysis,
        store,
        lock,  # type: ignore[arg-type]
        notifier,
        auto_rollback=auto_rollback,
        service=config.service,
        actor=AGENT,
        log=lambda text: None,
    )
    watch = AnalysisWatch(
        parts,
        traffic,  # type: ignore[arg-type]
        acts.rollback,
        CanaryAnalysis(parts, acts.abort),
        config.readiness.sample_interval_seconds,
    )
    return {
        "store": store,
        "notifier": notifier,
        "lock": lock,
        "traffic": traffic,
        "watch": watch,
        "rollbacks": acts.rollbacks,
        "aborts": acts.aborts,
    }


def tick(live: Color | None) -> TickInputs:
    """A composition step's inputs, with only the live colour (all the pre-switch gate reads)."""
    return TickInputs(live, {}, None, None, None, None)


@dataclass
class Counts:
    """Cumulative counters per colour, as the proxy holds them."""

    by_colour: dict[Color, list[int]] = field(default_factory=dict)  # req, 2xx, 5xx, buckets…

    def serve(self, color: Color, ok: int, errors: int, latency_ms: float) -> None:
        row = self.by_colour.setdefault(color, [0, 0, 0] + [0] * (len(LATENCY_BOUNDS_MS) + 1))
        row[0] += ok + errors
        row[1] += ok
        row[2] += errors
        index = next((i for i, b in enumerate(LATENCY_BOUNDS_MS) if latency_ms <= b), -1)
        row[3 + index if index >= 0 else -1] += ok + errors

    def snapshot(self, at: float) -> TrafficSnapshot:
        colours = {
            color: ColourCounters(
                requests=row[0], status_2xx=row[1], status_5xx=row[2], buckets=tuple(row[3:])
            )
            for color, row in self.by_colour.items()
        }
        return TrafficSnapshot(at, colours)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    store = Store.open(tmp_path / "state")
    try:
        yield make_world(store, parse_config(CONFIG))
    finally:
        store.close()


def _run(world: dict[str, Any], seconds: int, green: tuple[int, int, float], start: float) -> None:
    """Tick once a second; green serves (ok, errors, latency) per second, blue nothing."""
    counts: Counts = world.setdefault("counts", Counts())
    for second in range(seconds):
        now = start + second
        ok, errors, latency = green
        if ok or errors:
            counts.serve("green", ok, errors, latency)
        world["traffic"].snapshot = counts.snapshot(now)
        live = world["store"].live()
        world["watch"].observe(now, live)
        world["watch"].post_switch(now)


def _switch_to_green(world: dict[str, Any], start: float) -> int:
    """Blue serves 20 req/s at 10 ms for 5 s (the baseline), then green goes live and watched."""
    store: Store = world["store"]
    store.set_live("blue", None)
    counts: Counts = world.setdefault("counts", Counts())
    for second in range(5):
        counts.serve("blue", 20, 0, 10)
        world["traffic"].snapshot = counts.snapshot(start + second)
        world["watch"].observe(start + second, "blue")
        world["watch"].post_switch(start + second)
    deployment = store.create_deployment(
        "green", "webapp:v2", "v2", SwitchPolicy.CONFIRM, "tester", {}, None
    )
    store.set_live("green", "blue")
    store.set_watch("green", start + 5 + 30)
    return deployment.id


def _analysis_events(store: Store) -> list[str]:
    return [e.text for e in store.events() if e.kind == "analysis"]


def test_failing_traffic_is_rolled_back_at_the_failure_limit_with_its_figures(
    world: dict[str, Any],
) -> None:
    start = time.time() - 5  # the switch (real clock) happens at start + 5
    deployment_id = _switch_to_green(world, start)
    _run(world, 8, (15, 10, 8.0), start + 5)  # 40 % 5xx
    events = _analysis_events(world["store"])
    assert any("baseline 80 requests in 4 s" in e for e in events), events  # blue, pre-switch
    polls = [e for e in events if ", poll " in e]
    assert len(polls) == 2, events  # failure_limit 2: rolled back after the second failed poll
    assert all("5xx 40.0% > 5.0% (max_error_rate)" in e for e in polls), polls
    assert "2/2 failed polls" in polls[-1]
    assert len(world["rollbacks"]) == 1 and "5xx 40.0%" in world["rollbacks"][0]
    assert any(e.startswith("Rolling back: green (v2) failed") for e in events), events
    kinds = [kind for kind, _ in world["notifier"].sent]
    assert kinds == ["failure"] and "5xx 40.0%" in world["notifier"].sent[0][1]
    deployment = world["store"].latest_deployment("green")
    assert deployment.id == deployment_id and deployment.phase == Phase.ROLLED_BACK
    assert "rolled back by agent: 2/2 failed polls" in (deployment.outcome or "")


def test_a_quiet_colour_is_never_rolled_back(world: dict[str, Any]) -> None:
    start = time.time() - 5  # the switch (real clock) happens at start + 5
    _switch_to_green(world, start)
    _run(world, 30, (0, 0, 0.0), start + 5)  # the whole watch without a request
    events = _analysis_events(world["store"])
    polls = [e for e in events if ", poll " in e]
    assert len(polls) >= 10 and all("inconclusive" in e for e in polls), polls
    assert world["rollbacks"] == [] and world["store"].live() == "green"
    world["store"].set_watch("green", 0.0)  # the watch ends (the loop closes it)
    world["watch"].post_switch(start + 40)
    assert "0 failed" in _analysis_events(world["store"])[-1]


def test_slow_traffic_breaches_the_p99_ratio(world: dict[str, Any]) -> None:
    start = time.time() - 5  # the switch (real clock) happens at start + 5
    _switch_to_green(world, start)
    _run(world, 6, (20, 0, 180.0), start + 5)  # baseline p99 ≈ 10 ms; green ≈ 200 ms
    polls = [e for e in _analysis_events(world["store"]) if ", poll " in e]
    assert polls and "(max_p99_ratio)" in polls[0], polls
    assert len(world["rollbacks"]) == 1


def test_healthy_traffic_passes_every_poll(world: dict[str, Any]) -> None:
    start = time.time() - 5  # the switch (real clock) happens at start + 5
    _switch_to_green(world, start)
    _run(world, 10, (20, 0, 12.0), start + 5)
    polls = [e for e in _analysis_events(world["store"]) if ", poll " in e]
    assert polls and all(": pass: " in e for e in polls), polls
    assert world["rollbacks"] == []


def test_read_errors_are_inconclusive_by_default(world: dict[str, Any]) -> None:
    start = time.time() - 5  # the switch (real clock) happens at start + 5
    _switch_to_green(world, start)
    world["traffic"].error = "the proxy's traffic counters: connection refused"
    _run(world, 8, (15, 10, 8.0), start + 5)
    polls = [e for e in _analysis_events(world["store"]) if ", poll " in e]
    assert polls and all("inconclusive: the traffic figures could not be read" in e for e in polls)
    assert world["rollbacks"] == []


def test_a_held_lock_postpones_the_rollback_to_a_later_tick(world: dict[str, Any]) -> None:
    start = time.time() - 5
    _switch_to_green(world, start)
    world["lock"].held_for = 2
    _run(world, 12, (15, 10, 8.0), start + 5)
    polls = [e for e in _analysis_events(world["store"]) if ", poll " in e]
    assert len(polls) == 2, polls  # no more polls once the limit is reached…
    assert len(world["rollbacks"]) == 1  # …and the rollback happens once the lock is free


def test_without_auto_rollback_it_only_says_so(world: dict[str, Any]) -> None:
    world.update(make_world(world["store"], parse_config(CONFIG), auto_rollback=False))
    store: Store = world["store"]
    start = time.time() - 5
    _switch_to_green(world, start)
    _run(world, 12, (15, 10, 8.0), start + 5)
    assert world["rollbacks"] == [] and store.live() == "green"
    said = [e for e in _analysis_events(store) if "auto_rollback is off" in e]
    assert len(said) == 1 and "5xx 40.0%" in said[0], said
    assert [kind for kind, _ in world["notifier"].sent] == ["failure"]


def _ready(color: Color, deployment_id: int | None = None) -> SlotStatus:
    return SlotStatus(
        color,
        SlotState.READY,
        deployment_id=deployment_id,
        container_state="running",
        ready=True,
        conditions=(Condition("health", True),),
    )


def test_pre_switch_gate_refuses_until_the_idle_colours_own_traffic_passes(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "state")
    config = parse_config(
        CONFIG.replace("min_requests = 10", "min_requests = 10\npre_switch = true")
    )
    made = make_world(store, config)
    traffic, watch = made["traffic"], made["watch"]
    counts = Counts()
    start = time.time() - 5  # the switch (real clock) happens at start + 5
    try:
        store.set_live("blue", None)
        green = store.create_deployment(
            "green", "webapp:v2", "v2", SwitchPolicy.AUTO, "tester", {}, None
        ).id
        # No preview traffic yet: inconclusive, which refuses the switch.
        counts.serve("blue", 50, 0, 10)
        traffic.snapshot = counts.snapshot(start)
        watch.observe(start, "blue")
        gated = watch.gate(_ready("green", green), tick("blue"))
        assert gated.ready is False and gated.state == SlotState.STARTING
        condition = gated.conditions[-1]
        assert condition.name == PRE_SWITCH_CONDITION and not condition.met
        assert "preview or canary traffic" in condition.detail
        assert gated.reason is not None and gated.reason.startswith("Waiting for the pre-switch")
        assert watch.gate(_ready("blue"), tick("blue")).conditions == _ready("blue").conditions
        # Preview traffic that fails: still refused, and the detail names the limit.
        for second in range(1, 4):
            counts.serve("green", 10, 10, 10)
            traffic.snapshot = counts.snapshot(start + second)
            watch.observe(start + second, "blue")
        gated = watch.gate(_ready("green", green), tick("blue"))
        assert not gated.ready and "max_error_rate" in gated.conditions[-1].detail
        # Healthy preview traffic for a whole window: the gate opens.
        for second in range(4, 10):
            counts.serve("green", 20, 0, 10)
            traffic.snapshot = counts.snapshot(start + second)
            watch.observe(start + second, "blue")
        gated = watch.gate(_ready("green", green), tick("blue"))
        assert gated.ready and gated.state == SlotState.READY and gated.conditions[-1].met
        # An older container still answering for green, or a colour that has been live (kept for
        # rollback), is never gated.
        assert watch.gate(_ready("green", green + 1), tick("blue")) == _ready("green", green + 1)
        store.set_phase(green, Phase.LIVE)
        store.set_phase(green, Phase.READY)
        for second in range(10, 13):
            counts.serve("green", 0, 30, 10)
            traffic.snapshot = counts.snapshot(start + second)
            watch.observe(start + second, "blue")
        assert watch.gate(_ready("green", green), tick("blue")) == _ready("green", green)
    finally:
        store.close()


def test_without_pre_switch_the_gate_is_untouched(world: dict[str, Any]) -> None:
    world["watch"].observe(time.time(), "blue")
    assert world["watch"].gate(_ready("green"), tick("blue")) == _ready("green")
