"""Does `status` ever contradict itself? Switches and rollbacks with readers polling beside them.

A private web-profile sandbox (real Docker, nginx in live mode, the agent publishing every
second) on ports 29900-29922: v1 live in blue, v2 ready in green. The benchmark then switches to
green and rolls back to blue, `--operations` times in all, `--pause` (0.2 s) apart, while a
separate reader process polls every `--interval` (50 ms) what `status --json` prints (the same
Console.status() and render.status_json) and the agent's Prometheus exporter. A reading
DISAGREES when it says `live = X` while slot X's state is not "live", or another slot's state is
"live" (the exporter: `bluegreen_live_color` against `bluegreen_slot_state`).

    python -m bench.status_consistency [--operations 200] [--interval 0.05] [--pause 0.2]

Target: 0 disagreeing readings (issue 21 saw live = green beside green "ready" for 0.7 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import table, write_results
from console.core.config.load import load_config
from console.core.model import Outcome
from console.core.service import Console
from console.wiring import open_console

PORT_BASE = 29900
# Every series carries its service first (one exporter serves every service the agent watches).
LIVE_GAUGE = re.compile(r'^bluegreen_live_color\{service="[^"]*",color="(\w+)"\} 1\.0$', re.M)
STATE_GAUGE = re.compile(
    r'^bluegreen_slot_state\{service="[^"]*",color="(\w+)",state="(\w+)"\} 1\.0$', re.M
)


def disagreement(live: str | None, states: dict[str, str]) -> str | None:
    """Why a reading contradicts itself, or None."""
    for color, state in states.items():
        if color == live and state not in ("live", "failed", "stopped", "empty"):
            return f"live = {live} but {color} is {state}"
        if color != live and state == "live":
            return f"live = {live} but {color} is live"
    return None


def poll(config_path: str, metrics_url: str, interval: float, out: Path) -> int:
    """The reader: poll until SIGTERM, then write the counts to `out`."""
    from console.cli.render import status_json

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    console = open_console(load_config(config_path, watching=True), read_only=True)
    counts = {"status": 0, "metrics": 0}
    bad: dict[str, list[str]] = {"status": [], "metrics": []}
    client = httpx.Client(timeout=2)
    while not stopping:
        started = time.monotonic()
        data: dict[str, Any] = status_json(console.status())
        states = {color: slot["state"] for color, slot in data["slots"].items()}
        counts["status"] += 1
        if why := disagreement(data["live"], states):
            bad["status"].append(f"{time.time():.3f} {why}")
        if metrics_url:
            try:
                text = client.get(metrics_url).text
            except httpx.HTTPError:
                text = ""
            if text:
                lives = LIVE_GAUGE.findall(text)
                gauges = dict(STATE_GAUGE.findall(text))
                counts["metrics"] += 1
                if why := disagreement(lives[0] if lives else None, gauges):
                    bad["metrics"].append(f"{time.time():.3f} {why}")
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    out.write_text(json.dumps({"readings": counts, "disagreeing": bad}))
    return 0


def run_operation(console: Console, name: str) -> tuple[bool, float, str]:
    started = time.monotonic()
    events = console.switch() if name == "switch" else console.rollback()
    outcomes = [event for event in events if isinstance(event, Outcome)]  # run it to its end
    took = time.monotonic() - started
    return bool(outcomes and outcomes[-1].ok), took, outcomes[-1].text if outcomes else "none"


def wait_ready(console: Console, color: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if console.status().slots[color].state.value == "ready":  # type: ignore[index]
            return
        time.sleep(0.3)
    raise SystemExit(f"{color} never became ready: {console.status().slots[color]}")  # type: ignore[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status_consistency", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    reader = sub.add_parser("poll")
    reader.add_argument("--config", required=True)
    reader.add_argument("--metrics", default="")
    reader.add_argument("--interval", type=float, default=0.05)
    reader.add_argument("--out", type=Path, required=True)
    parser.add_argument("--operations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument(
        "--pause", type=float, default=0.2, help="seconds between operations (readers see each)"
    )
    args = parser.parse_args(argv)
    if args.command == "poll":
        return poll(args.config, args.metrics, args.interval, args.out)

    from tests.integration import sandbox_fixture

    print(f"… bringing up a private web sandbox on ports {PORT_BASE}+", flush=True)
    sandbox = sandbox_fixture.bring_up(profile="web", port_base=PORT_BASE)
    try:
        return measure(sandbox, args.operations, args.interval, args.pause)
    finally:
        sandbox_fixture.tear_down(sandbox.dir)


def measure(sandbox: Any, operations: int, interval: float, pause: float) -> int:
    deployed = sandbox.cli("deploy", "v2", "--switch", "never", "--wait", timeout=300)
    if deployed.returncode != 0:
        raise SystemExit(f"deploy v2 failed:\n{deployed.stdout}\n{deployed.stderr}")
    config = load_config(str(sandbox.config))
    console = open_console(config)
    wait_ready(console, "green", 120)
    metrics = f"http://{config.metrics.listen}/metrics" if config.metrics.listen else ""
    out = sandbox.dir / "poll.json"
    reader = subprocess.Popen(
        [sys.executable, "-m", "bench.status_consistency", "poll", "--config", str(sandbox.config),
         "--metrics", metrics, "--interval", str(interval), "--out", str(out)],
        env=os.environ.copy(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    took: list[float] = []
    failed: list[str] = []
    started = time.monotonic()
    try:
        time.sleep(1.0)
        for index in range(operations):
            name = "switch" if index % 2 == 0 else "rollback"
            if name == "switch":
                wait_ready(console, "green", 30)  # the gate must hold again after a rollback
            ok, seconds, message = run_operation(console, name)
            took.append(seconds)
            if not ok:
                failed.append(f"{name} #{index}: {message}")
            time.sleep(pause)
        time.sleep(1.0)
    finally:
        reader.send_signal(signal.SIGTERM)
        reader.wait(timeout=30)
        console.close()
    elapsed = time.monotonic() - started
    polled = json.loads(out.read_text())
    readings, bad = polled["readings"], polled["disagreeing"]
    print(
        table(
            ["reader", "readings", "disagreeing"],
            [[name, f"{readings[name]:,}", str(len(bad[name]))] for name in ("status", "metrics")],
        )
    )
    print(
        f"operations: {operations} ({len(failed)} refused or failed) in {elapsed:.1f} s; "
        f"reads every {interval * 1000:.0f} ms"
    )
    for line in (bad["status"] + bad["metrics"])[:10]:
        print("  disagreeing:", line)
    for line in failed[:5]:
        print("  operation:", line)
    write_results(
        "status_consistency",
        {
            "operations": operations,
            "operations_failed": failed,
            "interval_s": interval,
            "pause_s": pause,
            "elapsed_s": round(elapsed, 1),
            "readings": readings,
            "disagreeing": {name: len(lines) for name, lines in bad.items()},
            "examples": bad,
        },
    )
    return 0 if not bad["status"] and not bad["metrics"] and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
