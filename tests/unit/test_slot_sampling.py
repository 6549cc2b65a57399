"""How the agent samples a candidate: the order of its reads and the time it credits the gate with.

Fake candidate and head sources on the agent's real samplers: the reads take the time the test
says. The lag must never be under-estimated (height read first, head after) and
the readiness hold must start when the low lag was observed, not when the tick began.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from console.agent import slot_checks, slot_watch
from console.agent.samplers import Sampled, sample_round
from console.agent.slot_watch import SlotWatch
from console.core.config.load import load_config
from console.core.contracts.progress import Reading
from console.core.contracts.runtime import ContainerInfo
from console.core.model import SlotState, SlotStatus
from console.core.redact import Redactor

CONFIG = """
service = "sampling"
state_dir = "{state}"
[image]
repository = "example/svc"
[source]
db_url = "postgresql://u:p@127.0.0.1:9/src"
[slots.blue]
container = "s-blue"
host_port = 18991
db_url = "postgresql://u:p@127.0.0.1:9/blue"
[slots.green]
container = "s-green"
host_port = 18992
db_url = "postgresql://u:p@127.0.0.1:9/green"
[head]
kind = "sql"
[candidate]
kind = "sql"
[readiness]
max_lag = 2
hold_seconds = 3
log_pattern = ""
smoke_path = ""
not_behind_live = false
"""


@dataclass
class Reads:
    """What the fake sources answer, and the order (and wall time) in which they were asked."""

    height: int = 100
    head: int = 100
    height_takes: float = 0.0
    order: list[tuple[str, float]] = field(default_factory=list)

    def read_height(self) -> Reading:
        time.sleep(self.height_takes)
        self.order.append(("height", time.time()))
        return Reading(self.height)

    def read_head(self) -> Reading:
        self.order.append(("head", time.time()))
        return Reading(self.head)


class FakeSource:
    label = "fake source"
    reads_logs = False

    def __init__(self, read: Any) -> None:
        self.read = read

    def feed_line(self, line: str) -> None:
        pass

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeChecker:
    def __init__(self, base_url: str, quick_within: float | None = None) -> None:
        pass

    def health(self, path: str, expect: Any = None) -> tuple[bool, str]:
        return True, "ok"


class FakeRuntime:
    def inspect(self, name: str) -> ContainerInfo:
        return ContainerInfo(
            name=name,
            id="c1",
            image="example/svc:v2",
            labels={"bluegreen.deployment": "7"},
            state="running",
            running=True,
            exit_code=None,
            health=None,
            restart_count=0,
            started_at=990.0,
            finished_at=None,
            error=None,
            oom_killed=False,
        )

    def follow_logs(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        return iter(())


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SlotWatch, Reads]]:
    path = tmp_path / "bluegreen.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"), encoding="utf-8")
    reads = Reads()
    monkeypatch.setattr(
        slot_watch, "make_candidate_source", lambda *_: FakeSource(reads.read_height)
    )
    monkeypatch.setattr(slot_watch, "make_head_source", lambda *_: FakeSource(reads.read_head))
    monkeypatch.setattr(slot_checks, "HttpChecker", FakeChecker)
    runtime: Any = FakeRuntime()
    watch = SlotWatch(load_config(str(path)), "green", lambda: runtime, Redactor())
    yield watch, reads
    watch.close()


def _sample(watch: SlotWatch) -> None:
    """One sampling round; the first observe registers the container, so the round counts."""
    assert watch.progress is not None
    sample_round([watch.docker], budget_seconds=5.0)
    watch.observe(time.time(), None, "blue", None, None)
    sample_round([watch.docker, watch.progress], budget_seconds=5.0)


def test_height_is_read_before_the_head_and_the_sample_is_stamped_after_both(
    setup: tuple[SlotWatch, Reads],
) -> None:
    watch, reads = setup
    reads.height_takes = 0.3
    reads.head = 102  # the head grew while the height was being read
    _sample(watch)
    # The agent's own head, read before this colour's height: it must not be the one paired.
    stale: Sampled[int | None] = Sampled(100, time.time() - 0.5, None, None, 1)
    watch.observe(time.time(), stale, "blue", None, None)
    assert [what for what, _ in reads.order] == ["height", "head"]
    assert watch.last_sample is not None
    assert watch.last_sample.head == 102  # this colour's own head read, not the agent's older one
    assert watch.last_sample.at >= reads.order[-1][1]  # stamped when both reads were in


def test_a_low_lag_is_credited_from_when_it_was_read_not_from_the_tick(
    setup: tuple[SlotWatch, Reads],
) -> None:
    watch, reads = setup
    reads.height_takes = 0.2
    _sample(watch)
    stale: Sampled[int | None] = Sampled(100, time.time(), None, None, 1)
    status = watch.observe(time.time(), stale, "blue", None, None)
    lag = next(c for c in status.conditions if c.name.startswith("lag"))
    assert not lag.met and "held 0.0 s" in lag.detail, lag


def test_a_ready_colour_whose_container_restarted_is_failed_and_not_ready(
    setup: tuple[SlotWatch, Reads],
) -> None:
    """The gate's grace keeps a ready colour ready through a short failure, but a container the
    engine restarted is a crash, not a passing reading: the colour is failed and not switchable."""
    watch, _reads = setup
    watch.gate = slot_watch.ReadinessGate(
        replace(watch.gate.config, hold_seconds=0.0), catchup=True
    )
    fresh: Sampled[int | None] = Sampled(100, time.time(), None, None, 1)

    def observe() -> SlotStatus:
        _sample(watch)
        sample_round(watch.samplers(), budget_seconds=5.0)
        return watch.observe(time.time(), fresh, "blue", None, None)

    ready = observe()
    assert ready.ready and ready.state == SlotState.READY, ready.conditions
    runtime = watch.runtime()
    restarted = replace(runtime.inspect("s-green"), restart_count=1)
    runtime.inspect = lambda name: restarted  # type: ignore[method-assign]
    after = observe()
    assert after.state == SlotState.FAILED
    assert not after.ready
