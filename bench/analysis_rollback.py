"""How fast a failing release is taken back by the traffic analysis, and what clients lose.

A whole private `web` sandbox (Docker, nginx live mode with its per-colour counters, the agent)
on ports 29100-29110, with `[analysis]` added. Each run deploys the stand-in with failure
injection (`FAIL_POST_RATE`, a share of POSTs answered 500) into the idle colour, drives steady
keep-alive POST load through the proxy (bench/request_log.py remembers every answer: when, which
status, which colour), switches, and waits for the agent to roll back. From the clients' side:

    time to recover  = first answer from the old colour again − first bad answer
    failed meanwhile = failed answers in between (and those the bad colour still gave after)

and from the store's events: switch → automatic rollback, against its bound
`failure_limit × interval_seconds + 3 s`. Failed answers from the old colour once traffic is back
must be 0 (the rollback itself, without reload, costs nothing).

    python -m bench.analysis_rollback [--runs 3] [--rate 100] [--fail-rate 0.33]
                                      [--interval 1] [--failure-limit 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.common import fmt, table, write_results
from bench.request_log import RequestLog, recovery

PORT_BASE = 29100


def _cli(world: Any, *args: str) -> str:
    result = world.cli(*args)
    if result.returncode != 0:
        raise RuntimeError(f"bluegreen {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return str(result.stdout)


def _live(world: Any) -> str:
    return str(world.status()["live"])


def one_run(world: Any, args: argparse.Namespace) -> dict[str, Any]:
    old = _live(world)
    bad = "green" if old == "blue" else "blue"
    env = f"FAIL_POST_RATE={args.fail_rate:g}"
    _cli(world, "deploy", "v2", "--env", env, "--switch", "never", "--wait", "--timeout", "120")
    with RequestLog(f"{world.proxy_url}/", rate=args.rate, threads=args.threads) as load:
        time.sleep(args.baseline)  # the old colour's baseline, before the switch
        since = time.time()
        _cli(world, "switch", "--yes")
        deadline = time.monotonic() + args.failure_limit * args.interval + 30
        while _live(world) != old and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # answers after the rollback: none may fail
    answers = load.snapshot()
    seen = recovery(answers, bad=bad, old=old, since=since)
    events = json.loads(_cli(world, "history", "--json", "--limit", "300"))["events"]
    events = [e for e in events if e["at"] >= since]
    switched = next((e["at"] for e in events if e["kind"] == "switch"), None)
    rolled = next((e for e in events if e["kind"] == "rollback"), None)
    polls = [e for e in events if e["kind"] == "analysis" and ", poll " in e["text"]]
    return {
        "rolled_back": rolled is not None and rolled["actor"] == "agent",
        "recover_s": seen.seconds,
        "failed_meanwhile": seen.failed_meanwhile,
        "answered_meanwhile": seen.answered_meanwhile,
        "failed_after": seen.failed_after,
        "switch_to_rollback_s": rolled["at"] - switched if rolled and switched else None,
        "polls": len(polls),
        "requests": len([a for a in answers if a.at >= since]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0, help="POSTs per second in total")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--fail-rate", type=float, default=0.33, help="FAIL_POST_RATE")
    parser.add_argument("--interval", type=float, default=1.0, help="analysis.interval_seconds")
    parser.add_argument("--window", type=float, default=2.0, help="analysis.window_seconds")
    parser.add_argument("--failure-limit", type=int, default=3)
    parser.add_argument("--baseline", type=float, default=3.0, help="seconds of load before")
    args = parser.parse_args(argv)

    from tests.integration.sandbox_fixture import bring_up, stop_agent, tear_down

    print(f"… bringing up a private web sandbox on ports {PORT_BASE}+", flush=True)
    world = bring_up(profile="web", port_base=PORT_BASE)
    runs: list[dict[str, Any]] = []
    try:
        watch = max(30.0, args.failure_limit * args.interval * 3)
        text = world.config.read_text().replace("watch_seconds = 60", f"watch_seconds = {watch:g}")
        world.config.write_text(
            text
            + f"""
[analysis]
interval_seconds = {args.interval:g}
window_seconds = {args.window:g}
max_error_rate = 0.05
failure_limit = {args.failure_limit}
min_requests = 10
"""
        )
        stop_agent(world)  # the first deploy starts it again on this config
        for number in range(1, args.runs + 1):
            run = one_run(world, args)
            runs.append(run)
            print(
                f"run {number}: recovered in {fmt(run['recover_s'], 2)} s, "
                f"{run['failed_meanwhile']}/{run['answered_meanwhile']} answers failed meanwhile",
                flush=True,
            )
    finally:
        tear_down(world.dir)
    bound = args.failure_limit * args.interval + 3
    rows = [
        [
            str(i),
            fmt(r["recover_s"], 2),
            f"{r['failed_meanwhile']}/{r['answered_meanwhile']}",
            str(r["failed_after"]),
            fmt(r["switch_to_rollback_s"], 2),
            "yes" if r["switch_to_rollback_s"] and r["switch_to_rollback_s"] <= bound else "NO",
        ]
        for i, r in enumerate(runs, 1)
    ]
    print()
    print(
        f"FAIL_POST_RATE={args.fail_rate:g}, {args.rate:g} POST/s, interval {args.interval:g} s, "
        f"failure_limit {args.failure_limit} (bound {bound:g} s)"
    )
    print(
        table(
            [
                "run",
                "first bad → back on old (s)",
                "failed meanwhile",
                "failed after",
                "switch → rollback (s)",
                "≤ bound",
            ],
            rows,
        )
    )
    write_results(
        "analysis_rollback",
        {
            "fail_post_rate": args.fail_rate,
            "rate": args.rate,
            "interval_seconds": args.interval,
            "window_seconds": args.window,
            "failure_limit": args.failure_limit,
            "bound_s": bound,
            "runs": runs,
        },
    )
    return 0 if all(r["rolled_back"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
