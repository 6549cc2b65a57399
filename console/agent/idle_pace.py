"""An idle service's pace: a full tick every few seconds, a light one in between (issue 23).

A full tick asks every part (containers, HTTP checks, the proxy's colour and counters, heights)
for a reading, composes both colours and writes them: about 13 ms of CPU per service. Once a
service is idle — no deployment under way (one live, or ready and waiting for an operator, is
not), no canary, no traffic analysis polling a post-switch
window, both colours in a steady state, every part answering, and two full ticks in a row that
show the same thing — the agent
ticks fully only every `every` seconds (STALE_AFTER_INTERVALS sample intervals: 3 s for the web
profile). In between it reads what operators decide in the store (live colour, canary,
post-switch window, active deployments: a few µs each), asks the proxy which colour it routes to
(what users get is checked every tick, so a colour moved behind bluegreen's back is fixed within
one, console/agent/live_colour.py). Its heartbeat and statuses are written at the full ticks:
readers call an agent silent, and its statuses stale, after AGENT_STALE_SECONDS, so a full tick
comes at least every half of that whatever the interval (a store write fewer every second).

Any change wakes it at once: an operator's decision seen in the store, or a part that has not
answered its last read (the proxy, asked every tick), makes the next tick full; a full tick that
finds something different (a state, a health, a condition, a part not answering) returns the
service to a full tick every interval until it has looked the same twice again. What it costs: a
change outside bluegreen that only a full tick sees (a container dying, a health check starting
to fail) is seen up to `every` s later than at full pace, and a part that stops answering is
asked again (and shows stale `stale_after` after that) up to `every` s later: a stall still
shows stale within `every + stale_after` of its start, never hidden. In a post-switch window
without [analysis], a new live colour that fails (its container, its health) changes what a full
tick shows, so the full pace resumes and the rollback's consecutive bad ticks come every interval:
it starts up to `every` s later than at full pace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from console.agent.samplers import Sampler
from console.core.model import (
    COLORS,
    Canary,
    Color,
    Phase,
    SlotState,
    SlotStatus,
    SwitchPolicy,
)
from console.core.service import AGENT_STALE_SECONDS
from console.core.store.store import Store

# Readers call the agent silent and its statuses stale past AGENT_STALE_SECONDS: an idle
# service's full ticks, which write both, come at least twice as often.
FULL_TICK_AT_LEAST_EVERY_SECONDS = AGENT_STALE_SECONDS / 2

# Colours in these states change only through something happening: a deploy, a crash, a switch.
STEADY_STATES = frozenset({SlotState.LIVE, SlotState.READY, SlotState.STOPPED, SlotState.EMPTY})


class Decided(NamedTuple):
    """What operators (and the agent's own switches) decide, as the store has it: a change of
    any of it wakes an idle service."""

    live: Color | None
    canary: Canary | None
    watch: tuple[Color, float] | None  # the post-switch window
    deployments: tuple[tuple[int, Phase, SwitchPolicy] | None, ...]  # each colour's active one
    previous: Color | None = None  # the colour switched away from (retired after the keep)

    @property
    def under_way(self) -> bool:
        """A deployment is starting, catching up or switching (or ready, the agent to switch
        it): its phases advance on the agent's ticks. One that is live, or ready and waiting for
        an operator, is steady."""
        return any(
            phase in _UNDER_WAY or (phase == Phase.READY and policy == SwitchPolicy.AUTO)
            for _id, phase, policy in filter(None, self.deployments)
        )


_UNDER_WAY = frozenset({Phase.CREATED, Phase.STARTING, Phase.SYNCING, Phase.SWITCHING})


def decisions(store: Store) -> Decided:
    steering, active = store.decided()  # one statement: asked every second
    deployments = tuple(active.get(color) for color in COLORS)
    return Decided(steering.live, steering.canary, steering.watch, deployments, steering.previous)


def shape(status: SlotStatus) -> tuple[object, ...]:
    """What an operator would see change in a colour, leaving out the figures that move on their
    own (heights, speeds, resource figures, the readings' ages, the time it was composed)."""
    return (
        status.state,
        status.ready,
        status.healthy,
        status.container_state,
        status.image,
        status.version,
        status.deployment_id,
        status.started_at,
        status.restart_count,
        status.reason,
        tuple((c.name, c.met) for c in status.conditions),
    )


def all_answered(samplers: Iterable[Sampler[Any]], patience: float = 0.0) -> bool:
    """Every part answered its last read: none failing, none in flight for over `patience` s."""
    now = time.time()  # the samplers' clock
    for sampler in samplers:
        reading = sampler.latest()
        if reading.error is not None:
            return False
        if reading.waiting_since is not None and now - reading.waiting_since > patience:
            return False
    return True


class IdlePace:
    """Decides, before each tick, whether it is a full one; told what each full tick found."""

    def __init__(
        self,
        every: float,
        interval: float,
        parts: Sequence[Sampler[Any]],
        clock: Callable[[], float] = time.monotonic,
        analysis: bool = False,
        retires: bool = False,
    ) -> None:
        self.every = min(every, FULL_TICK_AT_LEAST_EVERY_SECONDS)
        # With keep_previous_seconds, a previous colour still running is to be stopped once it
        # drains: its open requests are read every interval, not idle.
        self.retires = retires
        # With [analysis], the post-switch window's polls keep their schedule: not idle in it.
        self.analysis = analysis
        self.interval = interval
        self.parts = parts  # every sampler of the service: idle only while all of them answer
        # Ticks come every `interval`: a full one is due once `every` has (nearly) passed.
        self._due_after = max(0.0, self.every - 0.5 * interval)
        self.clock = clock  # monotonic seconds (a test passes its own)
        self.idle = False
        self.why_busy = "starting"  # what the last full tick found under way, for the log
        self._last_full: float | None = None
        self._decisions: Decided | None = None
        self._shapes: dict[Color, tuple[object, ...]] | None = None

    def full_due(self, decided: Decided) -> bool:
        """Whether this tick is a full one: not idle, an operator decided something, a part
        (the proxy, read between full ticks too) is not answering, or `every` has passed."""
        if not self.idle or self._last_full is None or decided != self._decisions:
            return True
        if not all_answered(self.parts, patience=self.interval):  # the proxy's read, say
            return True
        return self.clock() - self._last_full >= self._due_after

    def after_full(
        self,
        decided: Decided,
        statuses: Mapping[Color, SlotStatus],
    ) -> str | None:
        """A full tick composed `statuses` with `decided` in the store. Idle from now on only if
        nothing is under way, every part answers and it looks as it did before. Returns a line
        for the log when the pace changes."""
        was_idle = self.idle
        shapes = {color: shape(status) for color, status in statuses.items()}
        previous = statuses.get(decided.previous) if decided.previous else None
        retiring = (
            self.retires
            and decided.previous != decided.live
            and previous is not None
            and previous.container_state == "running"
        )
        quiet = (
            decided.canary is None
            and not (self.analysis and decided.watch is not None)
            and not decided.under_way
            and not retiring
        )
        steady = all(status.state in STEADY_STATES for status in statuses.values())
        same = shapes == self._shapes and decided == self._decisions
        answered = all_answered(self.parts)
        self.idle = same and quiet and steady and answered
        self.why_busy = (
            "" if self.idle
            else "an operation, analysis or retirement is under way" if not quiet
            else "a colour is on its way" if not steady
            else "a part is not answering" if not answered
            else "something changed"
        )  # fmt: skip
        self._shapes, self._decisions, self._last_full = shapes, decided, self.clock()
        if self.idle == was_idle:
            return None
        return (
            f"idle: a full tick every {self.every:g} s"
            if self.idle
            else f"full pace: {self.why_busy}"
        )

    def busy(self) -> None:
        """A tick failed: full pace until one has looked steady twice again."""
        self.idle = False
        self.why_busy = "a tick failed"
        self._shapes = None
