"""How the agent samples a candidate: the order of its reads and the time it credits the gate with.

A fake clock, a fake candidate source and a fake head: the reads take the time the test says, so
the property is exact. The lag must never be under-estimated (height read first, head after) and
the readiness hold must start when the low lag was observed, not when the tick began.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from console.agent import slot_watch
from console.agent.slot_watch import SlotWatch
from console.core.config import load_config
from console.core.redact import Redactor
from console.drivers.docker_model import ContainerInfo

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
[readiness]
max_lag = 2
hold_seconds = 3
log_pattern = ""
smoke_path = ""
not_behind_live = false
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@dataclass
class Reads:
    clock: Clock
    height: int = 100
    head: int = 100
    height_takes: float = 0.0
    order: list[str] = field(default_factory=list)

    def read_height(self) -> int:
        self.order.append("height")
        self.clock.now += self.height_takes
        return self.height

    def read_head(self) -> int:
        self.order.append("head")
        self.clock.now += 0.01
        return self.head


class FakeCandidate:
    def __init__(self, reads: Reads) -> None:
        self.reads = reads

    def read(self) -> int:
        return self.reads.read_height()

    def close(self) -> None:
        pass


class FakeChecker:
    def __init__(self, base_url: str) -> None:
        pass

    def health(self, path: str) -> tuple[bool, str]:
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


@dataclass
class FakeInstallation:
    config: Any
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    redactor: Redactor = field(default_factory=Redactor)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SlotWatch, Reads]]:
    path = tmp_path / "bluegreen.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"), encoding="utf-8")
    clock = Clock()
    reads = Reads(clock)
    monkeypatch.setattr(slot_watch, "time", clock)
    monkeypatch.setattr(slot_watch, "make_candidate_source", lambda *_: FakeCandidate(reads))
    monkeypatch.setattr(slot_watch, "HttpChecker", FakeChecker)
    watch = SlotWatch(FakeInstallation(load_config(str(path))), "green")  # type: ignore[arg-type]
    yield watch, reads
    watch.close()


def _tick(watch: SlotWatch, reads: Reads, at: float, stale_head: int) -> bool:
    reads.clock.now = at
    status = watch.observe(at, stale_head, "blue", None, None, read_head=reads.read_head)
    return status.ready


def test_height_is_read_before_the_head_and_the_sample_is_stamped_after_both(
    setup: tuple[SlotWatch, Reads],
) -> None:
    watch, reads = setup
    reads.height_takes = 0.3
    reads.head = 102  # the head grew since the tick read 100
    _tick(watch, reads, 1000.0, stale_head=100)
    assert reads.order == ["height", "head"]
    assert watch.last_sample is not None
    assert watch.last_sample.head == 102  # the fresh head, not the tick's older one
    assert watch.last_sample.at == pytest.approx(1000.31)  # when both reads were in


def test_the_hold_starts_when_the_low_lag_was_observed_not_when_the_tick_began(
    setup: tuple[SlotWatch, Reads],
) -> None:
    watch, reads = setup
    reads.height_takes = 0.5  # the first low reading comes in half a second into its tick
    assert not _tick(watch, reads, 1000.0, stale_head=100)
    reads.height_takes = 0.0
    assert not _tick(watch, reads, 1001.0, stale_head=100)
    assert not _tick(watch, reads, 1002.0, stale_head=100)
    # Three ticks after the first low one, but only 2.5 s after the low lag was seen.
    assert not _tick(watch, reads, 1003.0, stale_head=100)
    assert _tick(watch, reads, 1004.0, stale_head=100)
