"""The agent hands each watcher the parts it uses, and opens the container engine only when a
reading needs it: built with an engine that cannot be reached, the agent starts, and its tick
publishes Docker's error as each colour's reason instead of failing. A real store and the real
tick; the proxy and the notifier are small fakes, the engine a builder that always fails."""

from __future__ import annotations

import time
from pathlib import Path

from console.agent.loop import Agent
from console.core.config.load import parse_config
from console.core.config.schema import Config
from console.core.contracts.proxy import ReadBack
from console.core.contracts.runtime import Runtime, RuntimeUnavailable
from console.core.installation import Drivers, Installation
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import SlotState
from console.core.redact import Redactor

CONFIG = """
service = "parts"
state_dir = "{state}"
[image]
repository = "webapp"
[slots.blue]
container = "p-blue"
host_port = 18083
[slots.green]
container = "p-green"
host_port = 18084
[candidate]
kind = "none"
[readiness]
sample_interval_seconds = 0.2
"""


class FakeProxy:
    name = "fake proxy"

    def read_back(self) -> ReadBack:
        return ReadBack(answered=True, color=None)  # nothing live yet

    def persisted(self) -> None:
        return None

    def traffic(self) -> TrafficSnapshot | None:
        return None


class FakeNotifier:
    def send(self, kind: str, text: str, level: str = "info") -> None:
        pass

    def close(self, timeout: float = 5.0) -> bool:
        return True


def test_the_agent_starts_without_its_container_engine_and_reports_it(tmp_path: Path) -> None:
    asked: list[str] = []

    def unreachable(config: Config, redactor: Redactor) -> Runtime:
        asked.append("runtime")
        raise RuntimeUnavailable("Docker is not reachable at unix:///nowhere.sock.")

    drivers = Drivers(
        runtime=unreachable,
        proxy=lambda config: FakeProxy(),  # type: ignore[arg-type, return-value]
        notifier=lambda config, redactor: FakeNotifier(),
        parity=lambda config, redactor: None,
    )
    inst = Installation(parse_config(CONFIG.format(state=tmp_path / "state")), drivers)
    agent = Agent(inst, log=lambda text: None)
    try:
        assert asked == []  # built, and nothing asked the engine yet
        agent.tick(time.time())
        assert asked  # the Docker samplers asked on their threads, and it failed there
        for color in ("blue", "green"):
            status = inst.store.slot_status(color)
            assert status is not None and status.state == SlotState.EMPTY
            assert (
                status.reason
                == "Docker unavailable: Docker is not reachable at unix:///nowhere.sock."
            )
    finally:
        agent.close()
        inst.close()
