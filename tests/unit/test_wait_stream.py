"""`deploy --wait --json`'s line stream: what it prints, when, and the outcome word."""

from __future__ import annotations

import json

import pytest

from console.cli import parse_args
from console.cli.wait_stream import ProgressStream, outcome_name
from console.core.model import Deployment, Phase, SlotState, SlotStatus, SwitchPolicy


def _deployment(phase: Phase) -> Deployment:
    return Deployment(7, "green", "img:v2", "v2", SwitchPolicy.AUTO, phase, "ci", 0.0)


def _slot(state: SlotState, height: int | None = None, deployment_id: int | None = 7) -> SlotStatus:
    return SlotStatus("green", state, deployment_id=deployment_id, height=height, head=100)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_line_when_something_moves_none_when_nothing_did(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = ProgressStream("green")
    syncing = _deployment(Phase.SYNCING)
    stream.progress(_slot(SlotState.SYNCING, 10), syncing)
    stream.progress(_slot(SlotState.SYNCING, 10), syncing)  # nothing moved: no line
    stream.progress(_slot(SlotState.READY, 100), _deployment(Phase.READY))  # state change: a line
    lines = _lines(capsys)
    assert [(r["state"], r["height"], r["phase"]) for r in lines] == [
        ("syncing", 10, "syncing"),
        ("ready", 100, "ready"),
    ]
    assert all(r["event"] == "progress" and r["head"] == 100 for r in lines)


def test_height_only_moves_are_at_most_one_line_a_second(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = ProgressStream("green")
    syncing = _deployment(Phase.SYNCING)
    for height in range(10, 20):
        stream.progress(_slot(SlotState.SYNCING, height), syncing)
    assert len(_lines(capsys)) == 1


@pytest.mark.parametrize(
    ("state", "phase", "timed_out", "expected"),
    [
        (SlotState.LIVE, Phase.LIVE, False, "switched"),
        (SlotState.READY, Phase.READY, False, "ready"),
        (SlotState.FAILED, Phase.FAILED, False, "failed"),
        (SlotState.READY, Phase.ROLLED_BACK, False, "rolled_back"),
        (SlotState.SYNCING, Phase.SYNCING, True, "timeout"),
    ],
)
def test_outcome_names(state: SlotState, phase: Phase, timed_out: bool, expected: str) -> None:
    assert outcome_name(_slot(state), _deployment(phase), timed_out) == expected


def test_another_deployment_in_the_slot_is_not_ours_to_report_as_ready() -> None:
    assert outcome_name(_slot(SlotState.READY, deployment_id=6), _deployment(Phase.READY), False) \
        == "failed"


def test_the_outcome_line_carries_the_detail(capsys: pytest.CaptureFixture[str]) -> None:
    ProgressStream("green").outcome(_slot(SlotState.FAILED), _deployment(Phase.FAILED), "gate")
    (line,) = _lines(capsys)
    assert line["event"] == "outcome" and line["outcome"] == "failed" and line["detail"] == "gate"


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["deploy", "v2", "--switch", "sometimes", "--wait", "--json"])
    assert exit_info.value.code == 2
