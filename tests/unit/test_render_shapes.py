"""`bluegreen status` for both shapes of service: with catch-up (height, head, lag, ETA columns)
and without (a plain web service: state, version, health, and what the gate waits for)."""

from __future__ import annotations

import dataclasses

import pytest

from console.cli import render
from console.core.model import AgentInfo, Condition, SlotState, SlotStatus, Status


def status() -> Status:
    waiting = (
        Condition("health /ready", True, "HTTP 200"),
        Condition("ready held 10 s", False, "held 3.0 s of 10 s"),
    )
    return Status(
        service="web",
        live="blue",
        previous=None,
        slots={
            "blue": SlotStatus("blue", SlotState.LIVE, version="v1", healthy=True),
            "green": SlotStatus(
                "green", SlotState.STARTING, version="v2", healthy=True, conditions=waiting
            ),
        },
        agent=AgentInfo(running=True, pid=42),
        lock=None,
    )


def test_without_catch_up_there_are_no_height_columns(capsys: pytest.CaptureFixture[str]) -> None:
    render.print_status(status(), catchup=False)
    out = capsys.readouterr().out
    assert "HEIGHT" not in out and "ETA" not in out and "LAG" not in out
    assert "green   starting  v2" in out
    assert "green not ready: ready held 10 s (held 3.0 s of 10 s)" in out
    line = render.progress_line(status().slots["green"], catchup=False)
    assert line == "green: starting · waiting for ready held 10 s"


def test_with_catch_up_the_columns_stay(capsys: pytest.CaptureFixture[str]) -> None:
    render.print_status(status())
    out = capsys.readouterr().out
    assert "HEIGHT" in out and "ETA" in out
    assert "height — / —" in render.progress_line(status().slots["green"])


def test_a_colour_at_the_head_shows_no_eta(capsys: pytest.CaptureFixture[str]) -> None:
    at_head = SlotStatus(
        "blue", SlotState.LIVE, version="v1", height=20_984, head=20_985, lag=1, speed=1.0,
        at_head=True,
    )  # fmt: skip
    shown = dataclasses.replace(status(), slots={"blue": at_head})
    render.print_status(shown)
    out = capsys.readouterr().out
    assert "at head" in out
    assert render.progress_line(at_head).endswith("· at head")
    as_json = render.slot_json(at_head)
    assert as_json["at_head"] is True and as_json["eta_seconds"] is None
