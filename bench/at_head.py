"""At the head, does a ready colour stay ready — and stay quiet?

A private explorer sandbox (real PostgreSQL, chain simulator, stand-in containers, nginx, agent)
on ports 29800-29822, notifications sent to a local webhook sink on 29830. v2 is deployed into
green with `--switch never` and waits until ready: blue live and green idle, both following the
chain (a block a second; `--burst 5`: five blocks at once every five seconds). Then, for
`--minutes`, the status is read every `--poll` seconds — the same JSON `status --json` prints
(`console.cli.render.status_json`, in-process: a CLI process per quarter second would be the load)
— and counted:

- ready→not-ready transitions of a caught-up colour (the `ready` flag going from true to false,
  either colour);
- readings showing an ETA (`eta_seconds` not null) for a caught-up colour;
- notifications the webhook received during the window.

A colour counts as caught up at a reading when its lag is at most max_lag + the burst size: a
colour following a bursty head trails it by up to a burst for a moment. `--load` runs one CPU hog
per core beside it (plain busy loops at normal priority; their pids are this benchmark's own).

`--attempts N` then makes N operator attempts at the head, alternating `canary 10 --yes` (then
`canary abort`) and `switch --yes` (each switch moves the live colour; the next one moves it back),
through the real CLI, and counts the refusals with their reasons. Target for every count: 0.

    python -m bench.at_head [--minutes 30] [--poll 0.25] [--load] [--burst 5] [--attempts 100]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import fmt, table, write_results

PORT_BASE = 29800
WEBHOOK_PORT = 29830
BENCH_TAG = "bench-at-head-v2"


@contextlib.contextmanager
def cpu_hogs(count: int) -> Iterator[list[int]]:
    """`count` busy loops, stopped by their own pids at the end."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def bursty_chain(sandbox_dir: Path, burst: int) -> Iterator[int | None]:
    """Replace the sandbox's chain simulator by one that appends `burst` blocks at once."""
    if burst <= 1:
        yield None
        return
    info = json.loads((sandbox_dir / "sandbox.json").read_text())
    steady = info.get("pids", {}).get("chain")
    if steady:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(steady), signal.SIGTERM)
    url = _secrets(sandbox_dir)["SOURCE_HOST_DB_URL"]
    log = (sandbox_dir / "chain-burst.log").open("ab")
    argv = [sys.executable, "-m", "console.sandbox.chain", "--db-url-env", "CHAIN_DB_URL"]
    proc = subprocess.Popen(
        [*argv, "--interval", "1.0", "--burst", str(burst)],
        env={**os.environ, "CHAIN_DB_URL": url},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _secrets(directory: Path) -> dict[str, str]:
    values = {}
    for line in (directory / "secrets.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


def wait_for(read: Any, ok: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = read()
        if ok(last):
            return last
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}: {json.dumps(last)}")


def watch(read: Any, seconds: float, poll: float, bound: int) -> dict[str, Any]:
    """Poll the status for `seconds`; count flaps and ETAs of caught-up colours."""
    readings = 0
    left_ready: dict[str, int] = {"blue": 0, "green": 0}
    etas: dict[str, int] = {"blue": 0, "green": 0}
    not_at_head: dict[str, int] = {"blue": 0, "green": 0}
    behind: dict[str, int] = {"blue": 0, "green": 0}  # readings not counted: not caught up
    max_lag: dict[str, int] = {"blue": 0, "green": 0}
    eta_max = 0.0
    flaps: list[str] = []
    previous: dict[str, Any] = {}
    started = time.monotonic()
    next_at = started
    while time.monotonic() - started < seconds:
        status = read()
        readings += 1
        for color in ("blue", "green"):
            slot = status["slots"][color]
            lag = slot["lag"]
            caught_up = lag is not None and lag <= bound
            if lag is not None:
                max_lag[color] = max(max_lag[color], lag)
            if not caught_up:
                behind[color] += 1
                continue
            before = previous.get(color)
            if before is not None and before["ready"] and not slot["ready"]:
                left_ready[color] += 1
                unmet = [c for c in slot["conditions"] if not c["met"]]
                flaps.append(f"{color} lag {lag}: {unmet}")
            if slot["eta_seconds"] is not None:
                etas[color] += 1
                eta_max = max(eta_max, float(slot["eta_seconds"]))
            if not slot.get("at_head", False):
                not_at_head[color] += 1
            previous[color] = slot
        next_at += poll
        time.sleep(max(0.0, next_at - time.monotonic()))
    return {
        "readings": readings,
        "seconds": round(time.monotonic() - started, 1),
        "ready_to_not_ready": left_ready,
        "eta_readings": etas,
        "eta_max_s": eta_max,
        "not_at_head_readings": not_at_head,
        "not_caught_up_readings": behind,
        "max_lag": max_lag,
        "flaps": flaps[:20],
    }


REFUSED = re.compile(r"refused[^\n]*", re.IGNORECASE)


def attempts(world: Any, count: int) -> dict[str, Any]:
    """`canary 10 --yes` + `canary abort`, and `switch --yes`, alternately, at the head."""
    made = {"canary": 0, "switch": 0}
    refusals: list[str] = []
    failures: list[str] = []
    for index in range(count):
        kind = "canary" if index % 2 == 0 else "switch"
        made[kind] += 1
        args = ("canary", "10", "--yes") if kind == "canary" else ("switch", "--yes")
        done = world.cli(*args)
        text = done.stdout + done.stderr
        if done.returncode != 0:
            found = REFUSED.search(text)
            (refusals if found else failures).append(
                f"{kind}: {(found.group(0) if found else text.strip())[:300]}"
            )
        if kind == "canary":
            aborted = world.cli("canary", "abort")
            if aborted.returncode != 0:
                failures.append(f"canary abort: {(aborted.stdout + aborted.stderr)[:300]}")
        time.sleep(1.0)
    return {"made": made, "refused": len(refusals), "refusals": refusals, "failures": failures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.at_head", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to watch")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between readings")
    parser.add_argument("--load", action="store_true", help="a CPU hog per core beside it")
    parser.add_argument("--burst", type=int, default=1, help="blocks per burst (1 = steady)")
    parser.add_argument("--attempts", type=int, default=0, help="canary/switch attempts after")
    parser.add_argument("--history", type=int, default=3000, help="blocks of chain history")
    parser.add_argument("--speed", type=int, default=1000, help="v2 indexing speed, blocks/s")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from console.cli.render import status_json
    from console.core.config.load import load_config
    from console.sandbox import images
    from console.wiring import open_console
    from tests.integration import sandbox_fixture
    from tests.integration.webhook_sink import webhook_sink

    sandbox_fixture.PORT_BASE = PORT_BASE
    print(f"… bringing up a private sandbox on ports {PORT_BASE}-{PORT_BASE + 22}", flush=True)
    world = sandbox_fixture.bring_up(history=args.history, speed=args.speed)
    image = ""
    result: dict[str, Any] = {}
    try:
        with webhook_sink(WEBHOOK_PORT) as received, bursty_chain(world.dir, args.burst):
            text = world.config.read_text().replace(
                'webhook_url = ""', f'webhook_url = "http://127.0.0.1:{WEBHOOK_PORT}/hook"'
            )
            world.config.write_text(text)
            sandbox_fixture.stop_agent(world)  # `deploy` starts it again with the webhook
            image = images.build_standin(BENCH_TAG, version="v2")
            print("… deploy v2 into green and wait until it is ready", flush=True)
            deployed = world.cli(
                "deploy", image, "--env", f"INDEX_SPEED={args.speed}", "--switch", "never"
            )
            if deployed.returncode != 0:
                raise SystemExit(f"deploy failed: {deployed.stdout}\n{deployed.stderr}")
            config = load_config(str(world.config))
            console = open_console(config)
            try:

                def read() -> dict[str, Any]:
                    return status_json(console.status())

                wait_for(
                    read,
                    lambda s: s["slots"]["green"]["ready"] and s["slots"]["blue"]["ready"],
                    300,
                    "both colours ready",
                )
                time.sleep(10)  # past the catch-up: the window is about following the head
                sent_before = len(received)
                bound = config.readiness.max_lag + max(0, args.burst)
                cores = os.cpu_count() or 1
                print(
                    f"… watching for {args.minutes:g} min, a reading every {args.poll:g} s"
                    + (f", {cores} CPU hogs beside it" if args.load else ""),
                    flush=True,
                )
                with cpu_hogs(cores if args.load else 0):
                    result = watch(read, args.minutes * 60, args.poll, bound)
                result["notifications"] = len(received) - sent_before
                result["notification_texts"] = received[sent_before:][:20]
                if args.attempts:
                    print(f"… {args.attempts} canary/switch attempts at the head", flush=True)
                    with cpu_hogs(cores if args.load else 0):
                        result["attempts"] = attempts(world, args.attempts)
            finally:
                console.close()
    finally:
        sandbox_fixture.tear_down(world.dir)
        if image:
            subprocess.run(["docker", "rmi", image], capture_output=True, check=False)
    report(result, args)
    return 0


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    path = write_results("at_head", {"config": vars(args), **result})
    both = ("blue", "green")
    rows = [
        [
            color,
            str(result["ready_to_not_ready"][color]),
            str(result["eta_readings"][color]),
            str(result["not_at_head_readings"][color]),
            str(result["not_caught_up_readings"][color]),
            str(result["max_lag"][color]),
        ]
        for color in both
    ]
    print()
    mode = ("loaded" if args.load else "idle") + (
        f", bursts of {args.burst}" if args.burst > 1 else ""
    )
    print(f"At the head ({mode}): {result['readings']} readings over {result['seconds']} s")
    print(table(["colour", "ready→not", "ETA shown", "not at head", "behind", "max lag"], rows))
    total_flaps = sum(result["ready_to_not_ready"].values())
    total_etas = sum(result["eta_readings"].values())
    print(
        f"ready→not-ready transitions {total_flaps}, readings with an ETA {total_etas} "
        f"(max {fmt(result['eta_max_s'], 0)} s), notifications {result['notifications']}"
    )
    for flap in result["flaps"]:
        print(f"  flap: {flap}")
    for text in result["notification_texts"]:
        print(f"  sent: {text[:200]}")
    made = result.get("attempts")
    if made:
        print(
            f"attempts: {made['made']['canary']} canary 10 + {made['made']['switch']} switch, "
            f"refused {made['refused']}, other failures {len(made['failures'])}"
        )
        for line in made["refusals"][:10] + made["failures"][:10]:
            print(f"  {line}")
    print(f"JSON: {path}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
