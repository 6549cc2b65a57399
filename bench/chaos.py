"""Crash consistency: SIGKILL the CLI (switch, rollback, deploy) and the agent at random moments,
then check that nothing is left torn and that a restart reconciles everything within 5 s.

After every kill:
  * `nginx -t` (the config's test_command) passes;
  * many requests through the proxy are all served by one colour (never both, never an error);
  * the operator lock is free (a killed holder leaves no stale lock) and the store opens;
then the restart — a new agent if it was the agent that died, and `bluegreen reconcile` — must
bring store live == the running proxy's colour == the persisted proxy file within 5 s, recording
any drift it found as a `drift` event.

    python -m bench.chaos --trials 200              # brings up its own sandbox on port 29280
    python -m bench.chaos --config PATH --trials 20 # against a running sandbox
    python -m bench.chaos --stall --trials 100      # parts that hang instead (bench/chaos_stall.py)

Switches use `--force`: the readiness gate has its own tests, and here every switch should reach
the proxy so that kills land inside it. Deploys go into the idle colour; after a killed deploy
the idle colour is repaired (redeployed, not killed) before the next trial.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from console.core.config.load import load_config
from console.core.config.schema import Config

if typing.TYPE_CHECKING:
    from bench.chaos_stall import StallReport
from console.core.lock import OperatorLock
from console.core.store.store import Store
from console.drivers.proxy import COLOR_HEADER, make_proxy
from console.sandbox.world import process_alive

DEPLOY_TAG = "chaos-v2"  # a private tag: another sandbox's teardown removes bluegreen/standin:v2
RECONCILE_LIMIT_SECONDS = 5.0
PROBES = 30
# How the kills are spread: the operation's own duration is measured first (unkilled), then each
# kill lands uniformly within [0, SPREAD × that duration] — mostly inside the operation.
SPREAD = 1.3
WEIGHTS = {"switch": 0.3, "rollback": 0.3, "agent": 0.25, "deploy": 0.15}


@dataclass
class ChaosReport:
    trials: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    killed_mid_operation: int = 0  # the process was still running when SIGKILL arrived
    inconsistencies_found: int = 0  # trials after which store/proxy/file disagreed (drift)
    drift_events: int = 0
    max_reconcile_seconds: float = 0.0
    max_agent_restart_seconds: float = 0.0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        ops = ", ".join(f"{name} {count}" for name, count in sorted(self.by_operation.items()))
        return (
            f"trials: {self.trials} ({ops}); killed mid-operation: {self.killed_mid_operation}; "
            f"inconsistencies found and reconciled: {self.inconsistencies_found} "
            f"(drift events recorded: {self.drift_events}); "
            f"max reconcile: {self.max_reconcile_seconds:.2f} s; "
            f"max agent restart+reconcile: {self.max_agent_restart_seconds:.2f} s; "
            f"violations: {len(self.violations)}"
        )


class Chaos:
    def __init__(self, config_path: Path, seed: int, say: Callable[[str], None] = print) -> None:
        self.config_path = config_path
        self.config: Config = load_config(str(config_path))
        self.state = Path(self.config.state_dir)
        self.proxy = make_proxy(self.config)
        self.proxy_url = self.config.proxy.proxy_url.rstrip("/")
        self.rng = random.Random(seed)
        self.say = say
        self.durations: dict[str, float] = {}
        self.report = ChaosReport()

    # ── processes ──
    def _argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "console", "--config", str(self.config_path), *args]

    def _cli(self, *args: str, timeout: float = 180) -> tuple[int, str]:
        done = subprocess.run(
            self._argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode, done.stdout + done.stderr

    def _operation_argv(self, operation: str) -> list[str]:
        return {
            "switch": self._argv("switch", "--yes", "--force"),
            "rollback": self._argv("rollback", "--yes"),
            "deploy": self._argv("deploy", DEPLOY_TAG, "--switch", "never"),
            "agent": self._argv("agent"),
        }[operation]

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        log = os.open(self.state / "agent.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            os.close(log)

    def agent_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            pid = json.loads((self.state / "agent.json").read_text())["pid"]
            if isinstance(pid, int) and process_alive(pid):
                return pid
        return None

    def kill_agent(self) -> None:
        pid = self.agent_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_dead(pid)

    def start_agent(self) -> float:
        """Start an agent; seconds until it holds the lease and has finished a first tick."""
        started_wall = time.time()
        started = time.monotonic()
        process = self._spawn(self._argv("agent"))
        while time.monotonic() - started < 15:
            if process.poll() is not None:
                raise RuntimeError("the agent exited at start (see agent.log)")
            store = Store.open(self.state)
            try:
                beat = store.heartbeats().get("agent")
            finally:
                store.close()
            if beat is not None and beat >= started_wall:
                return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError("the agent did not complete a tick within 15 s")

    # ── the world ──
    def served(self) -> set[str | None]:
        seen: set[str | None] = set()
        with httpx.Client(timeout=5, trust_env=False) as client:
            for _ in range(PROBES):
                try:
                    response = client.post(
                        f"{self.proxy_url}/graphql", json={"query": "{ __typename }"}
                    )
                    ok = response.status_code == 200
                    seen.add(response.headers.get(COLOR_HEADER) if ok else None)
                except httpx.HTTPError:
                    seen.add(None)
        return seen

    def store_view(self) -> tuple[str | None, int]:
        """(live, last event id) — raises if the store cannot be opened or read."""
        store = Store.open(self.state)
        try:
            events = store.events(limit=1)
            return store.live(), events[-1].id if events else 0
        finally:
            store.close()

    def idle_ready(self) -> bool:
        live, _ = self.store_view()
        idle = "green" if live == "blue" else "blue"
        store = Store.open(self.state)
        try:
            status = store.slot_status(idle)  # type: ignore[arg-type]
        finally:
            store.close()
        return bool(
            status
            and status.container_state == "running"
            and status.version == DEPLOY_TAG
            and status.ready
            and time.time() - status.updated_at < 5
        )

    def repair_idle(self) -> None:
        """Make the idle colour run DEPLOY_TAG and be ready (not killed: this is set-up)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.idle_ready():
                return
            time.sleep(0.5)
        code, out = self._cli(
            "deploy", DEPLOY_TAG, "--switch", "never", "--wait", "--timeout", "120"
        )
        if code != 0:
            raise RuntimeError(f"could not repair the idle colour: {out.strip()[-400:]}")

    def prepare(self) -> None:
        from console.sandbox.images import build_standin

        build_standin(DEPLOY_TAG)
        if self.agent_pid() is None:
            self.start_agent()
        self.repair_idle()
        # Measure each operation unkilled, so the kill delays cover its whole run.
        for operation in ("switch", "rollback"):
            started = time.monotonic()
            code, out = self._cli(*self._operation_argv(operation)[5:])
            self.durations[operation] = time.monotonic() - started
            if code != 0:
                raise RuntimeError(f"{operation} failed before any chaos: {out.strip()[-400:]}")
        started = time.monotonic()
        code, out = self._cli("deploy", DEPLOY_TAG, "--switch", "never")
        self.durations["deploy"] = time.monotonic() - started
        self.durations["agent"] = 2.0  # start-up reconcile and the first ticks
        self.repair_idle()
        self.say(
            "operation durations (unkilled): "
            + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(self.durations.items()))
        )

    # ── one trial ──
    def trial(self, number: int) -> None:
        operation = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        self.report.trials += 1
        self.report.by_operation[operation] = self.report.by_operation.get(operation, 0) + 1
        _, event_id_before = self.store_view()
        delay = self.rng.uniform(0.0, SPREAD * self.durations[operation])
        if operation == "agent":
            # Kill the running agent at a random moment of its life, then a fresh one at a
            # random moment of its start-up (reconcile, first ticks).
            self.kill_agent()
            process = self._spawn(self._operation_argv("agent"))
        else:
            process = self._spawn(self._operation_argv(operation))
        time.sleep(delay)
        if process.poll() is None:
            self.report.killed_mid_operation += 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own session: children die with it
        process.wait()
        self._check_after_kill(number, operation)
        self._restart_and_reconcile(number, operation, event_id_before)
        if operation == "deploy":
            self.repair_idle()

    def _violation(self, number: int, operation: str, what: str) -> None:
        text = f"trial {number} ({operation}): {what}"
        self.report.violations.append(text)
        self.say("VIOLATION " + text)

    def _check_after_kill(self, number: int, operation: str) -> None:
        lock = OperatorLock(self.state)
        deadline = time.monotonic() + 2.0  # the agent may hold it legitimately for an instant
        while lock.holder() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        holder = lock.holder()
        if holder is not None and holder.user != "agent":
            self._violation(number, operation, f"lock still held: {holder.describe()}")
        test = subprocess.run(self.config.proxy.test_command, capture_output=True, text=True)
        if test.returncode != 0:
            self._violation(number, operation, f"nginx -t failed: {test.stderr.strip()}")
        served = self.served()
        if len(served) != 1 or None in served:
            self._violation(number, operation, f"proxy served {sorted(map(str, served))}")
        try:
            self.store_view()
        except Exception as exc:
            self._violation(number, operation, f"the store does not open: {exc}")

    def _restart_and_reconcile(self, number: int, operation: str, event_id_before: int) -> None:
        live, _ = self.store_view()
        current, persisted = self.proxy.current(), self.proxy.persisted()
        inconsistent = not (live == current == persisted)
        if inconsistent:
            self.report.inconsistencies_found += 1
        started = time.monotonic()
        if self.agent_pid() is None:
            seconds = self.start_agent()
            self.report.max_agent_restart_seconds = max(
                self.report.max_agent_restart_seconds, seconds
            )
        code, out = self._reconcile(started + RECONCILE_LIMIT_SECONDS)
        elapsed = time.monotonic() - started
        self.report.max_reconcile_seconds = max(self.report.max_reconcile_seconds, elapsed)
        if code != 0:
            self._violation(number, operation, f"reconcile failed: {out.strip()[-300:]}")
        if elapsed > RECONCILE_LIMIT_SECONDS:
            self._violation(number, operation, f"restart+reconcile took {elapsed:.1f} s")
        live, _ = self.store_view()
        current, persisted = self.proxy.current(), self.proxy.persisted()
        if not (live == current == persisted) or live is None:
            self._violation(
                number,
                operation,
                f"after reconcile: store {live}, proxy {current}, file {persisted}",
            )
        store = Store.open(self.state)
        try:
            drifts = [
                e for e in store.events(limit=50, after_id=event_id_before) if e.kind == "drift"
            ]
        finally:
            store.close()
        self.report.drift_events += len(drifts)
        if inconsistent and not drifts:
            self._violation(number, operation, "drift was fixed but no drift event was recorded")

    def _reconcile(self, deadline: float) -> tuple[int, str]:
        """`bluegreen reconcile`; while the agent holds the lock fixing the same drift (its
        per-tick check of the proxy), try again until `deadline`."""
        while True:
            code, out = self._cli("reconcile")
            busy = "Another operation is running: agent" in out
            if code == 0 or not busy or time.monotonic() >= deadline:
                return code, out
            time.sleep(0.1)

    def run(self, trials: int) -> ChaosReport:
        self.prepare()
        for number in range(1, trials + 1):
            self.trial(number)
            if number % 20 == 0:
                self.say(f"after {number} trials: {self.report.summary()}")
        return self.report


def _wait_dead(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", help="an existing sandbox's bluegreen.toml")
    parser.add_argument("--port-base", type=int, default=29280)
    parser.add_argument(
        "--stall",
        action="store_true",
        help="SIGSTOP/SIGCONT the parts (nginx, dockerd, PostgreSQL, a container) instead of "
        "SIGKILLing bluegreen (bench/chaos_stall.py)",
    )
    args = parser.parse_args(argv)
    directory: Path | None = None
    if args.config:
        config_path = Path(args.config)
    else:
        from tests.integration import sandbox_fixture

        sandbox_fixture.PORT_BASE = args.port_base
        print(f"Bringing up a sandbox on port {args.port_base}…", flush=True)
        sandbox = sandbox_fixture.bring_up()
        directory, config_path = sandbox.dir, sandbox.config
    started = time.monotonic()
    say = lambda s: print(s, flush=True)  # noqa: E731
    report: ChaosReport | StallReport
    try:
        chaos = Chaos(config_path, args.seed, say)
        if args.stall:
            from bench.chaos_stall import StallChaos

            report = StallChaos(chaos, args.seed, say).run(args.trials)
        else:
            report = chaos.run(args.trials)
    finally:
        if directory is not None:
            from tests.integration import sandbox_fixture

            sandbox_fixture.tear_down(directory)
    print(f"chaos: {report.summary()} in {time.monotonic() - started:.0f} s", flush=True)
    for violation in report.violations:
        print(f"  {violation}")
    return 0 if not report.violations else 1


if __name__ == "__main__":
    sys.exit(main())
