"""Node outages on a three-node Docker Swarm (issue 25, point 4), read by the agent's own parts.

On a Swarm bed of its own (console/sandbox/swarm: three engines in network namespaces, one
manager, two workers), a fresh colour of three replicas (the web stand-in, one per node) per
trial, read by the agent's SlotWatch every tick. Three kinds of outage, N trials each, the victim
alternating between the two workers:

- `link-warm-up`: mid-warm-up, the victim's link (its veth on the bridge) goes down; it comes
  back once the manager has marked the node Down (the task is then rescheduled there);
- `engine-blip`: mid-warm-up, the victim's engine is SIGKILLed with its shims and containers and
  started again 5 s later (the node never reads Down; it reports its task failed, exit 255);
- `link-before-switch`: once the colour is ready, the victim's link goes down for 5 s (never
  Down at the manager), then back.

Printed per kind: premature readies (a reading that says ready while fewer than three tasks on
three nodes count or one of them does not answer ready when asked right then: must be 0), false
failures (a reading that says failed: must be 0), readings that left ready before the manager
marked anything (the link-before-switch kind), trials ready again, and the time from the outage
to ready again.

    python -m bench.swarm_outages [--trials 10] [--kinds link-warm-up,engine-blip,…]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import fmt, percentile, table, write_results
from console.agent.samplers import sample_round
from console.agent.slot_watch import SlotWatch
from console.core.config.schema import Config
from console.core.model import SlotState, SlotStatus
from console.core.redact import Redactor
from console.drivers.swarm.runtime import SwarmRuntime
from console.sandbox.swarm import (
    SwarmBed,
    SwarmNode,
    kill_engine,
    set_link,
    start_engine,
    wait_answering,
)
from tests import ports
from tests.integration.swarm_outages import answers_ready, mend
from tests.integration.swarm_world import swarm_bed, swarm_config, wait_for, web_spec

PORTS = (ports.SWARM_OUTAGE_BENCH[0], ports.SWARM_OUTAGE_BENCH[1])
KINDS = ("link-warm-up", "engine-blip", "link-before-switch")
BLIP_SECONDS = 5.0  # the engine's outage: within the manager's ~13 s grace (FACTS.md)


class Reader:
    """One colour read by the agent's SlotWatch, counting the readings that would lie."""

    def __init__(self, config: Config, runtime: SwarmRuntime) -> None:
        self.watch = SlotWatch(config, "green", lambda: runtime, Redactor())
        self.readings = self.premature = self.failed = 0
        self.last: SlotStatus | None = None

    def read(self) -> SlotStatus:
        sample_round(self.watch.samplers(), budget_seconds=10.0)
        status = self.watch.observe(time.time(), None, "blue", None, None)
        self.readings += 1
        self.failed += status.state == SlotState.FAILED
        if status.ready:
            counted = [t for t in status.replicas.tasks if t.counted] if status.replicas else []
            honest = len({t.node for t in counted}) == 3 and all(
                answers_ready(t.endpoint) for t in counted
            )
            self.premature += not honest
        self.last = status
        return status

    def ready(self) -> bool:
        return self.read().ready

    def says(self, text: str) -> bool:
        status = self.read()
        return status.replicas is not None and text in status.replicas.summary()


def _task_runs_on(runtime: SwarmRuntime, config: Config, node: str) -> bool:
    replicas = runtime.replicas(config.slots["green"].container)
    return bool(replicas and any(t.node == node for t in replicas.counting))


def _outage(kind: str, reader: Reader, victim: SwarmNode) -> Callable[[], None]:
    """Start the outage of `kind`; returns what ends it."""
    if kind == "engine-blip":
        kill_engine(victim.name, victim.directory)
        time.sleep(BLIP_SECONDS)
        start_engine(victim.name, victim.directory)
        return lambda: wait_answering(victim.name, Path(victim.socket), 60)
    set_link(victim.name, False)
    if kind == "link-warm-up":
        wait_for("the node down", lambda: reader.says(f"node {victim.name} is down"), 90, 0.2)
    else:
        wait_for("the colour not ready", lambda: not reader.ready(), 30, 0.2)
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            reader.read()
    return lambda: set_link(victim.name, True)


def trials(bed: SwarmBed, tmp: Path, kind: str, count: int) -> dict[str, object]:
    config = swarm_config(bed, tmp / kind, PORTS)
    runtime = SwarmRuntime(config.runtime.docker_host, config.swarm)
    premature = failed = readings = 0
    ready_again: list[float] = []
    for index in range(count):
        victim = bed.workers[index % len(bed.workers)]
        runtime.remove(config.slots["green"].container)
        runtime.start(web_spec(config, "green", "v2"))
        reader = Reader(config, runtime)
        try:
            if kind == "link-before-switch":
                wait_for("green ready", reader.ready, 120, 0.2)
            else:
                on_victim = partial(_task_runs_on, runtime, config, victim.name)
                wait_for("a task on the victim", on_victim, 60, 0.1)
            began = time.monotonic()
            end_outage = _outage(kind, reader, victim)
            end_outage()
            wait_for("ready again", reader.ready, 240, 0.2)
            ready_again.append(time.monotonic() - began)
        finally:
            mend(bed)  # every link up, every engine answering
            reader.watch.close()
            premature += reader.premature
            failed += reader.failed
            readings += reader.readings
    runtime.remove(config.slots["green"].container)
    return {
        "trials": count,
        "premature_readies": premature,
        "false_failures": failed,
        "readings": readings,
        "ready_again": len(ready_again),
        "ready_again_p50_s": percentile(ready_again, 50),
        "ready_again_max_s": max(ready_again) if ready_again else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.swarm_outages", description=__doc__)
    parser.add_argument("--trials", type=int, default=10, help="trials of each kind")
    parser.add_argument("--kinds", default=",".join(KINDS), help="which, comma-separated")
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown kinds {sorted(unknown)}: choose among {', '.join(KINDS)}")
    tmp = Path(tempfile.mkdtemp(prefix="bgso-", dir="/var/tmp"))
    rows: dict[str, dict[str, object]] = {}
    try:
        with swarm_bed("bgso", "10.77.42") as bed:
            for kind in kinds:
                rows[kind] = trials(bed, tmp, kind, args.trials)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_results("swarm_outages", {"kinds": rows})
    headers = ["outage", "trials", "premature", "false failed", "readings", "ready again"]
    print(
        table(
            [*headers, "p50 s", "max s"],
            [
                [
                    kind,
                    fmt(r["trials"]),
                    fmt(r["premature_readies"]),
                    fmt(r["false_failures"]),
                    fmt(r["readings"]),
                    fmt(r["ready_again"]),
                    fmt(r["ready_again_p50_s"]),
                    fmt(r["ready_again_max_s"]),
                ]
                for kind, r in rows.items()
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
