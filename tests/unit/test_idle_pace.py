"""An idle service's pace (console/agent/idle_pace.py): full ticks every `every` seconds once
nothing is under way and two full ticks looked the same; back to a full tick every interval as
soon as an operator decides something, a colour changes or a part stops answering.

The pace's own rules on statuses built here; then the real agent and its real tick over a real
store, with a stand-in container engine that counts its inspects and can be made to fail."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from console.agent.idle_pace import FULL_TICK_AT_LEAST_EVERY_SECONDS, Decided, IdlePace
from console.agent.loop import Agent
from console.agent.samplers import Sampler
from console.core.config.load import parse_config
from console.core.config.schema import Config
from console.core.contracts.runtime import ContainerInfo, Runtime, RuntimeNotAnswering
from console.core.installation import Drivers, Installation
from console.core.model import (
    Canary,
    Color,
    Condition,
    Phase,
    SlotState,
    SlotStatus,
    SwitchPolicy,
)
from console.core.redact import Redactor
from console.core.service import AGENT_STALE_SECONDS
from tests.unit.test_agent_parts import FakeNotifier, FakeProxy

LIVE_V1 = (1, Phase.LIVE, SwitchPolicy.AUTO)
READY_V2 = (2, Phase.READY, SwitchPolicy.NEVER)  # deployed, waiting for an operator's switch
QUIET = Decided("blue", None, None, (LIVE_V1, READY_V2))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _statuses(green: SlotState = SlotState.READY, healthy: bool = True) -> dict[Color, SlotStatus]:
    ready = (Condition("health", healthy, "HTTP 200"),)
    return {
        "blue": SlotStatus("blue", SlotState.LIVE, healthy=True, updated_at=time.time()),
        "green": SlotStatus("green", green, healthy=healthy, conditions=ready),
    }


def _pace(parts: list[Sampler[int]] | None = None) -> tuple[IdlePace, Clock]:
    clock = Clock()
    return IdlePace(3.0, 1.0, parts or [], clock=clock), clock


def test_idle_after_two_steady_full_ticks_then_a_full_tick_every_three_seconds() -> None:
    pace, clock = _pace()
    assert pace.full_due(QUIET)
    pace.after_full(QUIET, _statuses())
    assert not pace.idle  # one tick is not yet "the same as before"
    assert pace.full_due(QUIET)
    pace.after_full(QUIET, _statuses())  # updated_at differs: not part of what is compared
    assert pace.idle
    fulls = []
    for _ in range(9):
        clock.now += 1.0
        if pace.full_due(QUIET):
            fulls.append(clock.now)
            pace.after_full(QUIET, _statuses())
    assert fulls == [103.0, 106.0, 109.0]


def test_a_long_interval_still_writes_within_what_readers_call_stale() -> None:
    """A 5-s interval would make three of them 15 s between full ticks: the heartbeat and the
    statuses, written only then, would read stale (AGENT_STALE_SECONDS) for a third of the time."""
    clock = Clock()
    pace = IdlePace(15.0, 5.0, [], clock=clock)
    assert pace.every == FULL_TICK_AT_LEAST_EVERY_SECONDS < AGENT_STALE_SECONDS
    for _ in range(2):
        pace.after_full(QUIET, _statuses())
    assert pace.idle
    clock.now += 5.0
    assert pace.full_due(QUIET)  # every tick of 5 s is full: none waits past 5 s


def test_a_post_switch_window_is_idle_unless_traffic_analysis_polls_it() -> None:
    watched = QUIET._replace(watch=("blue", 1e12))
    pace, _ = _pace()
    pace.after_full(watched, _statuses())
    pace.after_full(watched, _statuses())
    assert pace.idle  # a failing live colour changes what a full tick shows: that wakes it
    pace.analysis = True
    pace.after_full(watched, _statuses())
    assert not pace.idle


def test_an_operators_decision_wakes_an_idle_service_at_once() -> None:
    for decided in (
        QUIET._replace(deployments=(LIVE_V1, (3, Phase.STARTING, SwitchPolicy.AUTO))),  # deploy
        QUIET._replace(deployments=(LIVE_V1, (2, Phase.READY, SwitchPolicy.AUTO))),  # to switch
        QUIET._replace(live="green"),  # a switch
        QUIET._replace(canary=Canary("green", 10)),
        QUIET._replace(watch=("green", 1e12)),  # the post-switch window
    ):
        pace, clock = _pace()
        pace.after_full(QUIET, _statuses())
        pace.after_full(QUIET, _statuses())
        clock.now += 1.0
        assert pace.idle and not pace.full_due(QUIET)
        assert pace.full_due(decided)
        pace.after_full(decided, _statuses())
        assert not pace.idle  # the decisions changed: the full pace until steady again


def test_a_colour_that_changes_or_is_on_its_way_keeps_the_full_pace() -> None:
    pace, _ = _pace()
    pace.after_full(QUIET, _statuses())
    pace.after_full(QUIET, _statuses())
    pace.after_full(QUIET, _statuses(healthy=False))  # the health check started failing
    assert not pace.idle
    for state in (SlotState.SYNCING, SlotState.STARTING, SlotState.FAILED):
        pace, _ = _pace()
        pace.after_full(QUIET, _statuses(state))
        pace.after_full(QUIET, _statuses(state))
        assert not pace.idle, state


def test_a_part_that_does_not_answer_ends_the_idle_pace() -> None:
    failing = False

    def read() -> int:
        if failing:
            raise OSError("no answer")
        return 1

    part = Sampler("proxy", "the proxy", read)

    def read_once() -> None:
        round_ = part.request()
        assert part.wait_past(round_, time.monotonic() + 5)

    try:
        read_once()
        pace, clock = _pace([part])
        pace.after_full(QUIET, _statuses())
        pace.after_full(QUIET, _statuses())
        clock.now += 1.0
        assert pace.idle and not pace.full_due(QUIET)
        failing = True
        read_once()  # the proxy, asked between full ticks, fails
        assert pace.full_due(QUIET)
        pace.after_full(QUIET, _statuses())
        assert not pace.idle
        failing = False
        read_once()
        pace.after_full(QUIET, _statuses())
        assert pace.idle
        pace.busy()  # a tick that failed
        assert pace.full_due(QUIET) and not pace.idle
    finally:
        part.close()


def test_a_part_that_hangs_ends_the_idle_pace_once_it_outlasts_an_interval() -> None:
    release = threading.Event()
    part = Sampler("proxy", "the proxy", lambda: 0 if release.wait(30) else 1)
    try:
        release.set()
        assert part.wait_past(part.request(), time.monotonic() + 5)
        release.clear()
        clock = Clock()
        pace = IdlePace(3.0, 0.05, [part], clock=clock)
        pace.after_full(QUIET, _statuses())
        pace.after_full(QUIET, _statuses())
        assert pace.idle
        part.request()  # asked between full ticks; it hangs
        clock.now += 0.05
        time.sleep(0.2)  # longer than the interval: that read is overdue
        assert pace.full_due(QUIET)
    finally:
        release.set()
        part.close()


# ── the real agent ──────────────────────────────────────────────────────────────────────────────

CONFIG = """
service = "pace"
state_dir = "{state}"
[image]
repository = "webapp"
[slots.blue]
container = "pace-blue"
host_port = 18093
[slots.green]
container = "pace-green"
host_port = 18094
[candidate]
kind = "none"
[readiness]
sample_interval_seconds = 0.2
"""


class Engine:
    """Inspects answer "no such container" (both colours empty) until told to fail."""

    def __init__(self) -> None:
        self.inspects = 0
        self.failing = False

    def inspect(self, name: str) -> ContainerInfo | None:
        self.inspects += 1
        if self.failing:
            raise RuntimeNotAnswering("The Docker Engine did not answer within 5 s.")
        return None


def test_the_agent_inspects_an_idle_service_less_and_wakes_when_docker_fails(
    tmp_path: Path,
) -> None:
    engine = Engine()

    def runtime(config: Config, redactor: Redactor) -> Runtime:
        return engine  # type: ignore[return-value]

    drivers = Drivers(
        runtime=runtime,
        proxy=lambda config: FakeProxy(),  # type: ignore[arg-type, return-value]
        notifier=lambda config, redactor: FakeNotifier(),
        parity=lambda config, redactor: None,
    )
    inst = Installation(parse_config(CONFIG.format(state=tmp_path / "state")), drivers)
    agent = Agent(inst, log=lambda text: None)
    clock = Clock()
    agent.pace.clock = clock
    try:
        assert agent.paced_tick(time.time()) and agent.paced_tick(time.time())
        assert agent.pace.idle  # both colours empty and steady, every part answered
        before = engine.inspects
        fulls = []
        for _ in range(6):  # six intervals of 0.2 s: a full tick every 0.6 s
            clock.now += 0.2
            fulls.append(agent.paced_tick(time.time()))
        assert fulls == [False, False, True, False, False, True]
        assert engine.inspects - before == 4  # two full ticks, two colours
        beat = inst.store.heartbeats()["agent"]
        clock.now += 0.2
        assert not agent.paced_tick(time.time())
        assert inst.store.heartbeats()["agent"] == beat  # no write between full ticks

        engine.failing = True
        clock.now += 0.2
        assert not agent.paced_tick(time.time())
        clock.now += 0.2
        assert agent.paced_tick(time.time())  # the next full one: Docker fails in it
        assert inst.store.heartbeats()["agent"] > beat  # a full tick beats
        assert not agent.pace.idle
        status = inst.store.slot_status("blue")
        assert status is not None
        docker = next(r for r in status.readings if r.part == "docker")
        assert "did not answer" in (docker.error or "")  # published, with its age
        clock.now += 0.2
        assert agent.paced_tick(time.time())  # full pace while a part does not answer
    finally:
        agent.close()
        inst.close()


def test_a_previous_colour_waiting_to_be_retired_keeps_the_full_pace() -> None:
    """After a switch the previous colour is stopped once it drains: its open requests are read
    every interval, so the stop comes as soon as the last one ends (issue 23's CI saw it late)."""
    switched = QUIET._replace(previous="green")
    running = _statuses()
    running["green"] = SlotStatus("green", SlotState.READY, healthy=True, container_state="running")
    clock = Clock()
    retiring = IdlePace(3.0, 1.0, [], clock=clock, retires=True)
    for _ in range(3):
        retiring.after_full(switched, running)
    assert not retiring.idle and "retirement" in retiring.why_busy
    kept = IdlePace(3.0, 1.0, [], clock=clock, retires=False)  # keep_previous_seconds = 0
    for _ in range(3):
        kept.after_full(switched, running)
    assert kept.idle
    stopped = dict(running, green=SlotStatus("green", SlotState.STOPPED, container_state="exited"))
    for _ in range(3):
        retiring.after_full(switched, stopped)
    assert retiring.idle  # retired: nothing left to wait for
