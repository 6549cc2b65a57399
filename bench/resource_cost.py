"""What measuring resources costs the agent: its CPU with `[resources] stats` on vs off, with two
colours running, in one run.

The explorer sandbox (port base 29540, its own directory) runs blue live and v2 deployed into
green (ready, not switched), so the agent follows two stats streams and two database sizes.
Rounds alternate off/on: stop the agent, write `[resources] stats = false|true` into the config,
start `bluegreen agent`, let it settle `--settle` s, then read its CPU time (utime + stime from
/proc/PID/stat) over `--seconds` s of wall time. Alternating spreads the machine's background
load over both settings.

    python -m bench.resource_cost [--seconds 20] [--rounds 3] [--settle 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import fmt, table, write_results

PORT_BASE = 29540
TICKS = os.sysconf("SC_CLK_TCK")


def cli(config: Path | None, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    prefix = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "console", *prefix, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float:
    # Fields after the command name (which may hold spaces): utime and stime are the 12th and
    # 13th; all threads of the process are counted.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def stop_agent(directory: Path) -> None:
    info = directory / "state" / "agent.json"
    if not info.exists():
        return
    pid = json.loads(info.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not info.exists():
            return
        time.sleep(0.1)


def measure(config: Path, base_text: str, stats: bool, settle: float, seconds: float) -> float:
    """The agent's CPU, % of one core, over `seconds` with `[resources] stats = stats`."""
    config.write_text(f"{base_text}\n[resources]\nstats = {'true' if stats else 'false'}\n")
    agent = subprocess.Popen(
        [sys.executable, "-m", "console", "--config", str(config), "agent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        time.sleep(settle)
        if agent.poll() is not None:
            raise SystemExit(f"the agent exited with {agent.returncode}; is another one running?")
        start_cpu, start = cpu_seconds(agent.pid), time.monotonic()
        time.sleep(seconds)
        used, wall = cpu_seconds(agent.pid) - start_cpu, time.monotonic() - start
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    return 100.0 * used / wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per setting")
    parser.add_argument("--settle", type=float, default=5.0, help="after the agent starts")
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="bgbench-res-", dir="/var/tmp"))
    os.chmod(directory, 0o755)
    config = directory / "bluegreen.toml"
    try:
        print(f"Bringing up the explorer sandbox in {directory}…", flush=True)
        up = cli(
            None,
            "sandbox", "up", "--dir", str(directory), "--port-base", str(PORT_BASE),
            "--history", "3000", "--speed", "1500",
        )  # fmt: skip
        if up.returncode != 0:
            raise SystemExit(f"sandbox up failed:\n{up.stdout}\n{up.stderr}")
        deployed = cli(config, "deploy", "v2", "--switch", "never", "--wait", "--timeout", "180")
        if deployed.returncode != 0:
            raise SystemExit(f"deploy v2 failed:\n{deployed.stdout}\n{deployed.stderr}")
        status = json.loads(cli(config, "status", "--json").stdout)
        states = {color: slot["state"] for color, slot in status["slots"].items()}
        print(f"Both colours run: {states}", flush=True)
        stop_agent(directory)
        base_text = config.read_text()
        figures: dict[str, list[float]] = {"off": [], "on": []}
        for round_ in range(args.rounds):
            for setting in ("off", "on"):
                used = measure(config, base_text, setting == "on", args.settle, args.seconds)
                figures[setting].append(used)
                print(f"round {round_ + 1} stats {setting}: {used:.2f} % of a core", flush=True)
        config.write_text(base_text)
    finally:
        stop_agent(directory)
        cli(None, "sandbox", "down", "--dir", str(directory), timeout=180)
        shutil.rmtree(directory, ignore_errors=True)
    off = sum(figures["off"]) / len(figures["off"])
    on = sum(figures["on"]) / len(figures["on"])
    rows = [
        ["stats off", fmt(off, 2), " ".join(fmt(v, 2) for v in figures["off"])],
        ["stats on", fmt(on, 2), " ".join(fmt(v, 2) for v in figures["on"])],
        ["difference", fmt(on - off, 2), "target ≤ 1.00"],
    ]
    print(table(["agent, two colours", "% of a core (mean)", "per round"], rows))
    path = write_results(
        "resource_cost",
        {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "colours": states,
            "agent_cpu_percent_off": figures["off"],
            "agent_cpu_percent_on": figures["on"],
            "mean_off": off,
            "mean_on": on,
            "difference_percent_of_core": on - off,
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
