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
    assert (
        outcome_name(_slot(SlotState.READY, deployment_id=6), _deployment(Phase.READY), False)
        == "failed"
    )


def test_the_outcome_line_carries_the_detail(capsys: pytest.CaptureFixture[str]) -> None:
    ProgressStream("green").outcome(_slot(SlotState.FAILED), _deployment(Phase.FAILED), "gate")
    (line,) = _lines(capsys)
    assert line["event"] == "outcome" and line["outcome"] == "failed" and line["detail"] == "gate"


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["deploy", "v2", "--switch", "sometimes", "--wait", "--json"])
    assert exit_info.value.code == 2


def test_wait_never_shows_the_replaced_deployments_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """issue 21: the first line of `deploy --wait` into a used colour said the old one's "ready"."""
    from types import SimpleNamespace

    from console.cli.deploy_wait import wait_for
    from console.core.model import Status

    published = [_slot(SlotState.READY, 100, deployment_id=6), _slot(SlotState.READY, 100)]

    def status() -> Status:
        slot = published.pop(0)
        return SimpleNamespace(slots={"green": slot})  # type: ignore[return-value]

    store = SimpleNamespace(deployment=lambda _id: _deployment(Phase.SYNCING))
    console = SimpleNamespace(
        status=status,
        installation=SimpleNamespace(store=store, redactor=SimpleNamespace(redact=str)),
        config=SimpleNamespace(catchup=True),
    )
    code = wait_for(console, "green", 7, {SlotState.READY}, 30, as_json=True)  # type: ignore[arg-type]
    first, outcome = _lines(capsys)
    assert code == 0 and outcome["outcome"] == "ready"
    assert (first["state"], first["deployment_id"], first["height"]) == ("starting", 7, None)


def test_an_empty_colour_is_not_a_silent_endpoint() -> None:
    """issue 21: an empty green said "Green metrics endpoint not answering for 101 s"."""
    from console.core.model import PartReading

    silent = PartReading("height", "green metrics endpoint", 1.0, waiting_since=1.0)
    docker = PartReading("docker", "Docker", 1.0, waiting_since=1.0)
    empty = SlotStatus("green", SlotState.EMPTY, readings=(silent, docker))
    assert [r.part for r in empty.stale_parts(102.0)] == ["docker"]
    assert not empty.is_stale("height", 102.0)
    running = SlotStatus("green", SlotState.SYNCING, readings=(silent,))
    assert running.is_stale("height", 102.0)
