"""How soon after a candidate has caught up does bluegreen mark it ready — and the old monitor?

A whole private sandbox (real PostgreSQL, chain simulator, stand-in containers, nginx, agent) on
ports 29000-29020. Each run deploys v2 into green (the first into an empty slot, every later one
0.3 s after the previous run's `ready`: a re-deploy into a ready slot; every other run with the
agent restarted at a random phase of the chain's blocks) and watches,
independently of bluegreen, the moment every gate condition held: lag ≤ max_lag (head
`MAX(height) - 1` of the chain vs green's watermark, polled every 50 ms), not behind live, the
log pattern (timestamp of the first `catchup completed` line, from `docker logs -t`) and
health/smoke. Not behind live allows one block (`LIVE_ALLOWANCE`), as the gate does at a block a
second (issue 20: two colours at the head differ by a block by sampling order alone). The gate
then needs `hold_seconds`; the figure is

    detection delay = agent's `ready` event − (all conditions held + hold_seconds)   target ≤ 2 s

A `ready` before the watcher saw the conditions hold is a PREMATURE READY, reported with the
condition the watcher proves was not met (its readings are ordered so that a high lag or "behind
live" is proof, not a measuring artefact) and, for a lag spike, whether the agent's own samples
showed it.

The old monitor on the same timeline: sleep 120 s, then every 60 s `psql` MAX(height) on both
databases and `docker logs --tail 300 | grep "catchup completed"`; it switches at the first poll
whose grep matches. Its delay is computed from that schedule (waiting it out for real would take
minutes per run), then its actual commands run for a few iterations on a 1:100 time scale to show
they work and what each poll costs.

    python -m bench.catchup_detection [--runs 3] [--history 3000] [--speed 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import fmt, percentile, ratio, table, write_results
from console.core.config.load import load_config
from console.core.config.schema import Config
from console.core.model import Outcome, SwitchPolicy
from console.core.service import Console
from console.sandbox import images
from console.sandbox.postgres_proc import find_pg_bin
from console.wiring import open_console

PORT_BASE = 29000
GREEN_PORT = PORT_BASE + 2
PG_PORT = PORT_BASE + 20
OLD_FIRST_SLEEP = 120.0
OLD_POLL_EVERY = 60.0
PATTERN = "catchup completed"
# Our own tag: another sandbox's `down` removes the shared v1/v2 tags once no container uses them.
BENCH_TAG = "bench-v2"
# "Not behind live" as the gate defines it (issue 20): both indexers follow one head, each polling
# at its own moment, so at a block a second one is a block ahead about half the time; the gate
# allows the head's growth over one sample interval — here 1 block.
LIVE_ALLOWANCE = 1


@dataclass
class Timeline:
    """What the independent watcher saw during one run (wall-clock times, like the store's)."""

    # (at, head, green height, blue height): the head is read first, then the heights, and the
    # row is stamped after the reads, so head − green is a *lower* bound of green's lag at `at`:
    # a lag above max_lag here is proof, never a measuring artefact.
    samples: list[tuple[float, int | None, int | None, int | None]] = field(default_factory=list)
    probes: list[tuple[float, bool]] = field(default_factory=list)  # (at, health and smoke ok)
    # The same readings in this benchmark's first order, kept to show what it got wrong: stamped
    # before any read, green's height, then the HTTP probes, then the head — so a block added
    # during the probes read as lag, and a high-lag artefact restarted its hold.
    legacy: list[tuple[float, int | None, int | None, int | None, bool]] = field(
        default_factory=list
    )
    first_pattern_at: float | None = None


def _secrets(directory: Path) -> dict[str, str]:
    values = {}
    for line in (directory / "secrets.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


def _height(conn: psycopg.Connection[Any], query: str) -> int | None:
    try:
        row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return int(row[0]) if row and row[0] is not None else None


def _docker_time(stamp: str) -> float:
    # `docker logs -t`: 2024-05-01T02:40:01.123456789Z; fromisoformat takes microseconds.
    main, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{main}.{(fraction + '000000')[:6]}+00:00").timestamp()


def watch(
    urls: dict[str, str], container: str, since: float, stop: threading.Event, timeline: Timeline
) -> list[threading.Thread]:
    """Start the independent watchers: heights + HTTP every 50 ms, and the container's log."""

    def heights() -> None:
        with (
            psycopg.connect(urls["SOURCE_HOST_DB_URL"], autocommit=True) as chain,
            httpx.Client(timeout=1.0, trust_env=False) as client,
        ):
            green: psycopg.Connection[Any] | None = None
            blue = psycopg.connect(urls["BLUE_HOST_DB_URL"], autocommit=True)
            while not stop.is_set():
                # Head, then blue, then green: green's lag and "green behind blue" are then
                # lower bounds at the stamp (both only grow), so what they show is proven.
                started = time.time()
                head = _height(chain, "SELECT MAX(height) - 1 FROM blocks")
                blue_height = _height(blue, WATERMARK)
                try:
                    if green is None or green.closed:
                        green = psycopg.connect(urls["GREEN_HOST_DB_URL"], autocommit=True)
                    green_height = _height(green, WATERMARK)
                except psycopg.Error:  # the deploy resets green's database under us
                    green, green_height = None, None
                timeline.samples.append((time.time(), head, green_height, blue_height))
                try:
                    base = f"http://127.0.0.1:{GREEN_PORT}"
                    ok = client.get(f"{base}/health").status_code == 200
                    smoke = client.post(f"{base}/graphql", json={"query": "{ __typename }"})
                    ok = ok and smoke.status_code == 200
                except httpx.HTTPError:
                    ok = False
                timeline.probes.append((time.time(), ok))
                late_head = _height(chain, "SELECT MAX(height) - 1 FROM blocks")
                late_blue = _height(blue, WATERMARK)
                timeline.legacy.append((started, late_head, green_height, late_blue, ok))
                stop.wait(0.05)
            blue.close()
            if green is not None:
                green.close()

    def logs() -> None:
        process = subprocess.Popen(
            ["docker", "logs", "-f", "-t", "--since", f"{since:.3f}", container],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if PATTERN in line and timeline.first_pattern_at is None:
                    timeline.first_pattern_at = _docker_time(line.split(" ", 1)[0])
                if stop.is_set():
                    break
        finally:
            process.kill()
            process.wait()

    threads = [threading.Thread(target=f, daemon=True) for f in (heights, logs)]
    for thread in threads:
        thread.start()
    return threads


WATERMARK = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


def _lag_high(head: int | None, green: int | None, max_lag: int) -> bool:
    # No watermark yet (empty or reset index) is as far from caught up as it gets.
    return head is None or green is None or head - green > max_lag


def _probe_ok_at(timeline: Timeline, at: float) -> bool:
    """Health and smoke answered 200 at the last probe finished by `at`."""
    last = [ok for probed_at, ok in timeline.probes if probed_at <= at]
    return bool(last and last[-1])


def gate_met_at(
    timeline: Timeline, until: float, max_lag: int, hold: float
) -> tuple[float | None, float | None]:
    """The earliest moment (before `until`) at which the gate's conditions could all have held:
    lag ≤ max_lag unbroken for `hold` seconds, the log pattern seen once, and health/smoke and
    not-behind-live true then. The low-lag stretch is credited from the last sample that proved
    the lag high (it may have dropped right after). Also returns when that stretch began."""
    lag_since: float | None = None
    previous_at: float | None = None
    for at, head, green, blue in timeline.samples:
        if at > until:
            break
        if _lag_high(head, green, max_lag):
            lag_since, previous_at = None, at
            continue
        if lag_since is None:
            lag_since = previous_at if previous_at is not None else at
        previous_at = at
        pattern_at = timeline.first_pattern_at
        not_behind = blue is None or (green is not None and green >= blue - LIVE_ALLOWANCE)
        pattern_seen = pattern_at is not None and at >= pattern_at
        if at - lag_since >= hold and pattern_seen and _probe_ok_at(timeline, at) and not_behind:
            return max(lag_since + hold, pattern_at or at), lag_since
    return None, lag_since


def unmet_at_ready(
    timeline: Timeline,
    ready_at: float,
    max_lag: int,
    hold: float,
    agent_samples: list[tuple[float, int | None, int | None]],
) -> list[str]:
    """Each gate condition the watcher *proves* did not hold when the agent said ready, with the
    evidence. Empty = nothing premature. A lag spike is also checked against the agent's own
    samples: inside them it is a gate bug; between two of them, 1 s sampling cannot see it."""
    unmet: list[str] = []
    before = [row for row in timeline.samples if row[0] <= ready_at]
    high = [row for row in before if _lag_high(row[1], row[2], max_lag)]
    if not before:
        unmet.append("no watcher sample before ready (cannot confirm anything)")
    elif high and ready_at < high[-1][0] + hold:
        at, head, green, _ = high[-1]
        lag = "no height" if head is None or green is None else f"lag ≥ {head - green}"
        agent_low = [a for a, h, g in agent_samples if a <= at and h is not None and g is not None]
        seen_by_agent = any(
            at - hold <= a <= ready_at and (h is None or g is None or h - g > max_lag)
            for a, h, g in agent_samples
        )
        where = (
            "the agent's own samples show it: a gate bug"
            if seen_by_agent
            else "between the agent's samples"
            if agent_low
            else "before the agent's first sample"
        )
        ago = ready_at - at
        unmet.append(f"lag ≤ {max_lag} held {hold:g} s: {lag} {ago:.2f} s before ready ({where})")
    pattern_at = timeline.first_pattern_at
    if pattern_at is None or pattern_at > ready_at:
        unmet.append(f"log pattern `{PATTERN}`: not logged before ready")
    recent_probes = [ok for at, ok in timeline.probes if ready_at - 1.5 <= at <= ready_at]
    if recent_probes and not any(recent_probes):
        unmet.append("health/smoke: every probe in the 1.5 s before ready failed")
    recent = [row for row in before if row[0] >= ready_at - 1.5]
    if recent and all(
        blue is not None and green is not None and green < blue - LIVE_ALLOWANCE
        for _, _, green, blue in recent
    ):
        unmet.append(
            f"not behind live: green was more than {LIVE_ALLOWANCE} block behind blue at every "
            "sample in the 1.5 s before"
        )
    return unmet


def legacy_gate_met_at(timeline: Timeline, until: float, max_lag: int, hold: float) -> float | None:
    """This benchmark's first verdict, on its first readings: None meant "PREMATURE READY"."""
    lag_since: float | None = None
    for at, head, green, blue, ok in timeline.legacy:
        if at > until:
            break
        if head is None or green is None or head - green > max_lag:
            lag_since = None
            continue
        lag_since = lag_since if lag_since is not None else at
        pattern_at = timeline.first_pattern_at
        not_behind = blue is None or green >= blue
        pattern_seen = pattern_at is not None and at >= pattern_at
        if at - lag_since >= hold and pattern_seen and ok and not_behind:
            return max(at - 0.05, lag_since + hold, pattern_at or at)
    return None


def old_detection(deploy_at: float, caught_up_at: float) -> float:
    """When the old monitor's schedule first greps `catchup completed` after `caught_up_at`."""
    first_poll = deploy_at + OLD_FIRST_SLEEP
    if caught_up_at <= first_poll:
        return first_poll
    return first_poll + math.ceil((caught_up_at - first_poll) / OLD_POLL_EVERY) * OLD_POLL_EVERY


def ready_event_at(console: Console, deployment_id: int) -> float | None:
    for event in console.events(limit=500):
        if event.kind == "ready" and event.deployment_id == deployment_id:
            return event.at
    return None


def restart_agent_at_random_phase(console: Console) -> float:
    """Stop the agent and let the next deploy start it 0-1 s later: its 1 s ticks then fall at a
    new phase of the chain's 1 s blocks. (With one agent all along, every run has about the same
    phase, and a race that needs another phase never shows.) Returns the offset slept."""
    lease = console.installation.agent_lease
    info = lease.info()
    if info.running and info.pid:
        os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while lease.info().running and time.monotonic() < deadline:
            time.sleep(0.05)
    offset = random.uniform(0.0, 1.0)
    time.sleep(offset)
    return offset


def one_run(
    console: Console,
    config: Config,
    urls: dict[str, str],
    speed: int,
    timeout: float,
    restart_agent: bool = False,
) -> dict[str, object]:
    container = config.slot("green").container
    store = console.installation.store
    before = store.slot_status("green")
    slot_before = str(before.state) if before else "empty"
    agent_offset = restart_agent_at_random_phase(console) if restart_agent else None
    deploy_at = time.time()
    for event in console.deploy(
        BENCH_TAG, env={"INDEX_SPEED": str(speed)}, policy=SwitchPolicy.NEVER
    ):
        if isinstance(event, Outcome) and not event.ok:
            raise RuntimeError(f"deploy failed: {event.text}")
    deployment_id = store.deployments(limit=1)[0].id
    timeline = Timeline()
    stop = threading.Event()
    threads = watch(urls, container, deploy_at - 1, stop, timeline)
    ready_at = None
    deadline = time.monotonic() + timeout
    try:
        while ready_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
            ready_at = ready_event_at(console, deployment_id)
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    if ready_at is None:
        raise RuntimeError(f"green was not marked ready within {timeout:.0f} s")
    readiness = config.readiness
    agent_samples = [(x.at, x.head, x.height) for x in store.samples("green", deploy_at)]
    unmet = unmet_at_ready(
        timeline, ready_at, readiness.max_lag, readiness.hold_seconds, agent_samples
    )
    met_at, lag_since = gate_met_at(timeline, ready_at, readiness.max_lag, readiness.hold_seconds)
    legacy_met = legacy_gate_met_at(timeline, ready_at, readiness.max_lag, readiness.hold_seconds)
    pattern_at = timeline.first_pattern_at
    common = {
        "kind": "re-deploy into a ready slot" if slot_before == "ready" else f"into {slot_before}",
        "slot_before": slot_before,
        "agent_restarted_offset_s": None if agent_offset is None else round(agent_offset, 3),
        "ready_after_deploy_s": round(ready_at - deploy_at, 3),
        "hold_seconds": readiness.hold_seconds,
        "sample_interval_seconds": readiness.sample_interval_seconds,
        "watcher_samples": len(timeline.samples),
        "unmet_at_ready": unmet,
        "premature_ready": bool(unmet),
        # What the benchmark's first watcher would have said about this very run.
        "legacy_watcher_premature": legacy_met is None,
    }
    if unmet or met_at is None or lag_since is None or pattern_at is None:
        # `ready` came before the conditions held: a gate bug, reported rather than hidden.
        return {
            **common,
            "premature_ready": True,
            "unmet_at_ready": unmet or ["the watcher never saw every condition hold together"],
            "last_samples": timeline.samples[-3:],
        }
    caught_up = max(lag_since, pattern_at)  # caught up, and saying so in its log
    old_at = old_detection(deploy_at, pattern_at)  # the old monitor's only criterion
    return {
        **common,
        "caught_up_after_deploy_s": round(caught_up - deploy_at, 3),
        "low_lag_since_after_deploy_s": round(lag_since - deploy_at, 3),
        "first_pattern_after_deploy_s": round(pattern_at - deploy_at, 3),
        "gate_met_after_deploy_s": round(met_at - deploy_at, 3),
        "new_delay_s": round(ready_at - met_at, 3),
        "new_caught_up_to_ready_s": round(ready_at - caught_up, 3),
        "old_detect_after_deploy_s": round(old_at - deploy_at, 3),
        "old_delay_s": round(old_at - pattern_at, 3),
        "old_caught_up_to_detect_s": round(old_at - caught_up, 3),
    }


def old_commands(
    urls: dict[str, str], container: str, iterations: int, scale: float
) -> list[dict[str, object]]:
    """The old monitor's real commands on its schedule divided by `scale`."""
    results = []
    time.sleep(OLD_FIRST_SLEEP / scale)
    for index in range(iterations):
        if index:
            time.sleep(OLD_POLL_EVERY / scale)
        started = time.perf_counter()
        heights = {}
        for color in ("blue", "green"):
            info = psycopg.conninfo.conninfo_to_dict(urls[f"{color.upper()}_HOST_DB_URL"])
            where = ["-h", str(info["host"]), "-p", str(info["port"]), "-U", str(info["user"])]
            query = "SELECT MAX(height) FROM explorer_block_details"
            done = subprocess.run(
                [find_pg_bin("psql"), *where, "-d", str(info["dbname"]), "-tAc", query],
                env={**os.environ, "PGPASSWORD": str(info["password"])},
                capture_output=True,
                text=True,
                check=True,
            )
            heights[color] = int(done.stdout.strip())
        grep = subprocess.run(
            ["bash", "-c", f"docker logs --tail 300 {container} 2>&1 | grep -c '{PATTERN}'"],
            capture_output=True,
            text=True,
            check=False,
        )
        results.append(
            {
                "heights": heights,
                "grep_matches": int(grep.stdout.strip() or 0),
                "poll_ms": round((time.perf_counter() - started) * 1e3, 1),
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catchup_detection", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--history", type=int, default=3000, help="blocks of chain history")
    parser.add_argument("--speed", type=int, default=1000, help="v2 indexing speed, blocks/s")
    parser.add_argument("--old-iterations", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0, help="per run")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.integration import sandbox_fixture

    sandbox_fixture.PORT_BASE = PORT_BASE
    print(f"… bringing up a private sandbox on ports {PORT_BASE}-{PG_PORT}", flush=True)
    sandbox = sandbox_fixture.bring_up(history=args.history, speed=args.speed)
    runs: list[dict[str, object]] = []
    image = ""
    old_real: list[dict[str, object]] = []
    try:
        config = load_config(str(sandbox.config))
        urls = _secrets(sandbox.dir)
        image = images.build_standin(BENCH_TAG, version="v2")
        console = open_console(config)
        try:
            for index in range(args.runs):
                print(f"… run {index + 1}/{args.runs}: deploy v2 into green", flush=True)
                # Every other run restarts the agent at a random phase; the others keep it
                # running through the re-deploy (the old container's state is in its memory).
                restart = index % 2 == 1
                runs.append(one_run(console, config, urls, args.speed, args.timeout, restart))
        finally:
            console.close()
        print("… the old monitor's real commands, schedule ÷ 100", flush=True)
        old_real = old_commands(urls, config.slot("green").container, args.old_iterations, 100)
    finally:
        sandbox_fixture.tear_down(sandbox.dir)
        if image:
            subprocess.run(["docker", "rmi", image], capture_output=True, check=False)
    report(runs, old_real, args)
    return 0


def report(
    runs: list[dict[str, object]], old_real: list[dict[str, object]], args: argparse.Namespace
) -> None:
    def values(key: str) -> list[float]:
        return [float(v) for r in runs if isinstance(v := r.get(key), int | float)]

    new = values("new_delay_s")
    old = values("old_delay_s")
    premature = [i + 1 for i, r in enumerate(runs) if r["premature_ready"]]
    redeploys = sum(1 for r in runs if r["slot_before"] == "ready")
    legacy = [i + 1 for i, r in enumerate(runs) if r.get("legacy_watcher_premature")]
    summary = {
        "runs": len(runs),
        "redeploys_into_ready_slot": redeploys,
        "premature_ready_runs": premature,
        "legacy_watcher_premature_runs": legacy,
        "new_delay_s": {"p50": percentile(new, 50), "max": max(new, default=None)},
        "old_delay_s_this_timeline": {"p50": percentile(old, 50), "max": max(old, default=None)},
        # A long re-index ends at a uniformly random phase of the 60 s poll.
        "old_delay_s_long_reindex": {"mean": OLD_POLL_EVERY / 2, "max": OLD_POLL_EVERY},
        "old_poll_ms": percentile([float(str(o["poll_ms"])) for o in old_real], 50),
    }
    path = write_results(
        "catchup_detection",
        {"config": vars(args), "runs": runs, "old_real_commands": old_real, "summary": summary},
    )
    rows = [
        [
            str(i + 1),
            ("re-deploy" if r["slot_before"] == "ready" else str(r["slot_before"]))
            + ("" if r["agent_restarted_offset_s"] is None else " (new agent)"),
            fmt(r["caught_up_after_deploy_s"], 2),
            fmt(r["gate_met_after_deploy_s"], 2),
            fmt(r["ready_after_deploy_s"], 2),
            fmt(r["new_delay_s"], 2),
            fmt(r["new_caught_up_to_ready_s"], 2),
            fmt(r["old_detect_after_deploy_s"], 0),
            fmt(r["old_delay_s"], 1),
            ratio(float(str(r["old_delay_s"])), max(0.001, float(str(r["new_delay_s"])))),
        ]
        for i, r in enumerate(runs)
        if not r["premature_ready"]
    ]
    print()
    hold = runs[0]["hold_seconds"] if runs else "?"
    print(f"Catch-up detection (hold_seconds = {hold}; seconds)")
    headers = ["run", "green was", "caught up", "gate met", "ready", "new delay", "caught→ready"]
    print(table([*headers, "old detects", "old delay", "delay vs old"], rows))
    print("(caught up / gate met / ready / old detects: seconds after deploy. gate met = lag held")
    print(" hold_seconds + pattern + health/smoke + not behind live; new delay = ready − gate met;")
    print(" old delay = old detection − first `catchup completed`, on its 120 s + 60 s schedule)")
    print(
        f"{len(runs)} runs, {redeploys} of them re-deploys into a ready slot; new delay p50 "
        f"{fmt(percentile(new, 50), 2)} s, max {fmt(max(new, default=None), 2)} s; "
        f"premature readies: {len(premature)}."
    )
    if legacy:
        print(
            f"The benchmark's first watcher (head read after the HTTP probes) would have called "
            f"run(s) {legacy} PREMATURE READY."
        )
    if premature:
        print(f"PREMATURE READY in run(s) {premature}: the agent marked green ready while")
        for index in premature:
            for unmet in runs[index - 1]["unmet_at_ready"]:  # type: ignore[attr-defined]
                print(f"  run {index}: {unmet}")
    print(
        f"Old monitor on a long re-index: detection {OLD_POLL_EVERY / 2:.0f} s late on average, "
        f"up to {OLD_POLL_EVERY:.0f} s."
    )
    if old_real:
        print("\nThe old monitor's real commands (psql ×2 + docker logs --tail 300 | grep):")
        for index, poll in enumerate(old_real):
            print(
                f"  poll {index + 1}: heights {poll['heights']}, grep matches "
                f"{poll['grep_matches']}, {poll['poll_ms']} ms"
            )
    print(f"JSON: {path}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
