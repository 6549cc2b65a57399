"""A colour's status after its SlotWatch, composed by the agent's steps in order: the head
sampler joins the readings, its error explains a colour with no reason of its own, the traffic
figures and the parity report are attached, and each step sees what the previous ones made."""

from __future__ import annotations

from dataclasses import replace

from console.agent.slot_compose import (
    TickInputs,
    compose,
    with_head_error,
    with_head_reading,
    with_parity,
    with_traffic,
)
from console.core.measures.traffic import TrafficFigures
from console.core.model import PartReading, SlotState, SlotStatus

HEAD = PartReading("head", "the chain head", answered_at=0.0, error="the head is not answering")
TRAFFIC = TrafficFigures(rps=12.0)
STEPS = (with_head_reading, with_head_error, with_traffic, with_parity)


def tick(head: PartReading | None = HEAD, error: str | None = HEAD.error) -> TickInputs:
    return TickInputs("blue", {}, head, error, TRAFFIC, None)


def test_the_steps_attach_what_the_tick_knows() -> None:
    docker = PartReading("docker", "Docker", answered_at=1.0)
    syncing = SlotStatus("green", SlotState.SYNCING, readings=(docker,))
    status = compose(syncing, tick(), STEPS)
    assert status.readings == (docker, HEAD)
    assert status.reason == "the head is not answering"
    assert status.traffic == TRAFFIC and status.parity is None


def test_the_head_error_never_replaces_a_reason_nor_explains_an_empty_colour() -> None:
    failed = SlotStatus("green", SlotState.FAILED, reason="Container exited with code 1")
    assert compose(failed, tick(), STEPS).reason == "Container exited with code 1"
    assert compose(SlotStatus("green", SlotState.EMPTY), tick(), STEPS).reason is None
    no_head = compose(SlotStatus("green", SlotState.SYNCING), tick(None, None), STEPS)
    assert no_head.readings == () and no_head.reason is None


def test_each_step_sees_what_the_previous_ones_made() -> None:
    def judge(status: SlotStatus, tick: TickInputs) -> SlotStatus:
        busy = status.traffic is not None and (status.traffic.rps or 0) > 10
        return replace(status, reason="busy" if busy else "quiet")

    start = SlotStatus("blue", SlotState.LIVE)
    assert compose(start, tick(), (with_traffic, judge)).reason == "busy"
    assert compose(start, tick(), (judge, with_traffic)).reason == "quiet"
