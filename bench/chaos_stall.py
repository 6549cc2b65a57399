"""Stall chaos: SIGSTOP a part (nginx, the Docker daemon, PostgreSQL, a colour's container) at a
random moment — during a switch, a rollback, or while idle — then SIGCONT it, and measure how long
status and the proxy disagree after it resumes.

Each trial:
  * starts an operation (`switch --yes --force`, `rollback --yes`) or none, and stalls one part
    for a random 0.2-3 s (past the proxy's 1-2 s bounds about half the time) starting within
    its first 0.4 s;
  * after the part resumed and the operation ended, polls until the store's live colour equals
    the colour the running proxy routes to, and then the persisted file too;
  * a trial *disagrees* when that took longer than one agent tick (plus 0.5 s of slack for the
    tick's own work); the CLI's outcome must be true (said switched → the proxy moved; said
    traffic unchanged → it did not; "unknown" is allowed), and requests through the proxy must be
    served by one colour — the live one.

    python -m bench.chaos --stall --trials 100     # own sandbox on port 29280
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.chaos import Chaos
from bench.stalls import container_pids, dockerd_pids, nginx_pids, postgres_pids, stalled
from console.core.store.store import Store

PARTS = {"nginx": 0.35, "dockerd": 0.25, "postgres": 0.2, "container": 0.2}
OPERATIONS = {"switch": 0.4, "rollback": 0.3, "idle": 0.3}
STALL_SECONDS = (0.2, 3.0)  # past the proxy bounds (1-2 s) in about half the trials
STALL_START_SECONDS = 0.4
TICK_SLACK_SECONDS = 0.5
TRUTH_LIMIT_SECONDS = 15.0  # a trial that has not agreed by then is recorded as such


@dataclass
class StallReport:
    trials: int = 0
    by_part: dict[str, int] = field(default_factory=dict)
    by_operation: dict[str, int] = field(default_factory=dict)
    disagreements: int = 0  # status and proxy disagreed for more than one tick after resume
    longest_to_truth: float = 0.0  # store = proxy, from max(resume, operation end)
    longest_file_to_truth: float = 0.0  # … and the persisted file
    drift_fixes: int = 0  # trials the agent had to fix (the proxy moved behind the store)
    false_outcomes: int = 0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_part.items()))
        ops = ", ".join(f"{k} {v}" for k, v in sorted(self.by_operation.items()))
        return (
            f"stall trials: {self.trials} (parts: {parts}; during: {ops}); disagreements for "
            f"more than one tick after resume: {self.disagreements}; longest time to truth: "
            f"{self.longest_to_truth:.2f} s (file too: {self.longest_file_to_truth:.2f} s); "
            f"drifts the agent fixed: {self.drift_fixes}; false CLI outcomes: "
            f"{self.false_outcomes}; violations: {len(self.violations)}"
        )


class StallChaos:
    def __init__(self, chaos: Chaos, seed: int, say: Callable[[str], None] = print) -> None:
        self.chaos = chaos
        self.rng = random.Random(seed)
        self.say = say
        self.tick = chaos.config.readiness.sample_interval_seconds
        self.report = StallReport()

    def _pids(self, part: str, live: str | None) -> list[int]:
        directory = self.chaos.state.parent
        if part == "nginx":
            return nginx_pids(directory)
        if part == "dockerd":
            return dockerd_pids()
        if part == "postgres":
            return postgres_pids(directory)
        color = self.rng.choice(["blue", "green"]) if live else "blue"
        return container_pids(self.chaos.config.slot(color).container)  # type: ignore[arg-type]

    def _drift_events(self, after_id: int) -> int:
        store = Store.open(self.chaos.state)
        try:
            return sum(1 for e in store.events(limit=100, after_id=after_id) if e.kind == "drift")
        finally:
            store.close()

    def trial(self, number: int) -> None:
        part = self.rng.choices(list(PARTS), weights=list(PARTS.values()))[0]
        operation = self.rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        report = self.report
        report.trials += 1
        report.by_part[part] = report.by_part.get(part, 0) + 1
        report.by_operation[operation] = report.by_operation.get(operation, 0) + 1
        live_before, event_before = self.chaos.store_view()
        pids = self._pids(part, live_before)  # found before anything hangs (docker inspect)
        process: subprocess.Popen[str] | None = None
        if operation != "idle":
            argv = (
                ["switch", "--yes", "--force"] if operation == "switch" else ["rollback", "--yes"]
            )
            process = subprocess.Popen(
                self.chaos._argv(*argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        time.sleep(self.rng.uniform(0.0, STALL_START_SECONDS))
        with stalled(pids, longest=30):
            time.sleep(self.rng.uniform(*STALL_SECONDS))
        resumed = time.monotonic()
        out = ""
        if process is not None:
            out, _ = process.communicate(timeout=90)
        settled = max(resumed, time.monotonic())
        to_truth, file_to_truth, running = self._wait_for_truth(settled)
        report.longest_to_truth = max(report.longest_to_truth, to_truth)
        report.longest_file_to_truth = max(report.longest_file_to_truth, file_to_truth)
        if to_truth > self.tick + TICK_SLACK_SECONDS:
            report.disagreements += 1
            self._violation(
                number, part, operation, f"status and proxy agreed only after {to_truth:.2f} s"
            )
        if self._drift_events(event_before):
            report.drift_fixes += 1
        if process is not None:
            self._check_outcome(
                number, part, operation, process.returncode, out, live_before, running
            )
        served = self.chaos.served()
        live, _ = self.chaos.store_view()
        if served != {live}:
            self._violation(
                number, part, operation, f"served {sorted(map(str, served))}, live {live}"
            )

    def _wait_for_truth(self, since: float) -> tuple[float, float, str | None]:
        """Seconds from `since` until store = proxy, and until store = proxy = file."""
        to_truth: float | None = None
        running: str | None = None
        while time.monotonic() - since < TRUTH_LIMIT_SECONDS:
            live, _ = self.chaos.store_view()
            running = self.chaos.proxy.current()
            if live is not None and live == running:
                if to_truth is None:
                    to_truth = time.monotonic() - since
                if self.chaos.proxy.persisted() == live:
                    return to_truth, time.monotonic() - since, running
            time.sleep(0.05)
        limit = TRUTH_LIMIT_SECONDS
        return (to_truth if to_truth is not None else limit), limit, running

    def _check_outcome(
        self,
        number: int,
        part: str,
        operation: str,
        code: int | None,
        out: str,
        before: str | None,
        running: str | None,
    ) -> None:
        if code == 0 and running == before:
            lie = "the CLI said it switched, but the proxy did not move"
        elif code != 0 and "traffic unchanged" in out and running != before:
            lie = "the CLI said traffic unchanged, but the proxy moved"
        else:
            return
        self.report.false_outcomes += 1
        self._violation(number, part, operation, f"{lie}: {out.strip()[-300:]}")

    def _violation(self, number: int, part: str, operation: str, what: str) -> None:
        text = f"trial {number} ({part} stalled during {operation}): {what}"
        self.report.violations.append(text)
        self.say("VIOLATION " + text)

    def run(self, trials: int) -> StallReport:
        from console.sandbox.images import build_standin

        build_standin(self.chaos_tag())
        if self.chaos.agent_pid() is None:
            self.chaos.start_agent()
        self.chaos.repair_idle()
        for number in range(1, trials + 1):
            self.trial(number)
            if number % 20 == 0:
                self.say(f"after {number} trials: {self.report.summary()}")
        return self.report

    @staticmethod
    def chaos_tag() -> str:
        from bench.chaos import DEPLOY_TAG

        return DEPLOY_TAG
