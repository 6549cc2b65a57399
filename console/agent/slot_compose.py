"""How a colour's status is composed each tick, as a list of steps; and small pieces SlotWatch uses.

`SlotWatch.observe()` makes a colour's status from its own readings (container, height, HTTP
checks). The agent then applies its steps in order, each `(status, tick) -> status`, where `tick`
holds what this tick knows beside that colour: the agent's head reading, the proxy's traffic
figures, the parity report, the previous tick's statuses. The order matters: the contention warning
reads the traffic figures, and the pre-switch gate comes last so it judges the composed status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from console.core.measures.parity import ParityReport
from console.core.measures.traffic import TrafficFigures
from console.core.model import Color, Condition, PartReading, SlotState, SlotStatus


@dataclass(frozen=True, slots=True)
class TickInputs:
    """What one colour's status is composed with this tick, beside its own watch's readings."""

    live: Color | None
    previous: Mapping[Color, SlotStatus]  # last tick's statuses (the candidate, for contention)
    head: PartReading | None  # the agent's own head sampler; None: no independent head
    head_error: str | None  # why that head could not be read
    traffic: TrafficFigures | None  # the proxy's figures for this colour
    parity: ParityReport | None  # the latest comparison of both colours


Step = Callable[[SlotStatus, TickInputs], SlotStatus]


def compose(status: SlotStatus, tick: TickInputs, steps: Iterable[Step]) -> SlotStatus:
    for step in steps:
        status = step(status, tick)
    return status


def with_head_reading(status: SlotStatus, tick: TickInputs) -> SlotStatus:
    """The agent's head sampler is one of the parts every colour's readings list."""
    if tick.head is None:
        return status
    return replace(status, readings=(*status.readings, tick.head))


def with_head_error(status: SlotStatus, tick: TickInputs) -> SlotStatus:
    """A head that cannot be read explains a colour that has no reason of its own."""
    if not tick.head_error or status.reason is not None or status.state == SlotState.EMPTY:
        return status
    return replace(status, reason=tick.head_error)


def with_traffic(status: SlotStatus, tick: TickInputs) -> SlotStatus:
    if status.traffic is tick.traffic:  # None on both sides: the idle colour, every tick
        return status
    return replace(status, traffic=tick.traffic)


def with_parity(status: SlotStatus, tick: TickInputs) -> SlotStatus:
    if status.parity is tick.parity:
        return status
    return replace(status, parity=tick.parity)


def docker_silent_status(status: SlotStatus, error: str | None, said: str) -> SlotStatus:
    """Docker is not answering: the container is as last seen, so the gate is not met (a colour
    whose container nobody can see is not switched to) and the reason says why."""
    state = status.state
    if state == SlotState.READY:
        state = SlotState.SYNCING if status.height is not None else SlotState.STARTING
    reason = "; ".join(part for part in (error, status.reason) if part) or None
    return replace(
        status,
        state=state,
        ready=False,
        conditions=(*status.conditions, Condition("Docker answers", False, said)),
        reason=reason,
    )


def label_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
