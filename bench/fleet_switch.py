"""Two services behind ONE proxy: switch service A N times under keep-alive POST load on A and B.

Issue 23's isolation figure, measured: services `a` and `b` (a configuration directory, read by
`load_fleet`) behind one private nginx in live mode — or one HAProxy — routed by path prefix as
`bluegreen proxy snippet` prints it (tests/integration/fleet_world.py builds it). `hey` keeps a
keep-alive POST load on each service; A is switched N times (blue→green, then back) while a probe
per service polls every millisecond. Printed per proxy:

- failed requests on A and on B (any non-2xx answer or socket error hey reports);
- A's cutover p50/p99: command issued → the probe's first answer from the new colour;
- B's answers from a colour other than its live one, counted twice and independently: by the
  proxy's own per-colour counters for B (every request, hey's included) and by B's probe, which
  reads the colour header of every answer (it prints each change: one idle-colour line means at
  least one such answer). Both must be 0.

    python -m bench.fleet_switch [--switches 20] [--rows nginx-live,haproxy]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import (
    HeyLoad,
    LoadResult,
    Probe,
    chosen,
    fmt,
    percentile,
    require_hey,
    table,
    upstreams,
    write_results,
)
from bench.switch_under_load import SwitchRun, Target, switch_many
from console.core.model import Color
from tests import ports
from tests.integration.fleet_world import Service, SharedProxy, shared_proxy

PROXY, A_BLUE, A_GREEN, B_BLUE, B_GREEN = ports.FLEET_SWITCH_BENCH
ROWS = ("nginx-live", "nginx-reload", "haproxy")
B_LIVE: Color = "green"  # B stays here; A starts on blue


def _requests_by_colour(service: Service) -> dict[str, int]:
    snapshot = service.driver.traffic()
    assert snapshot is not None
    return {colour: counters.requests for colour, counters in snapshot.colours.items()}


def _settled_counts(service: Service) -> dict[str, int]:
    """B's counters once two readings agree (nginx flushes each worker's sums every 0.1 s)."""
    previous = _requests_by_colour(service)
    while True:
        time.sleep(0.3)
        now = _requests_by_colour(service)
        if now == previous:
            return now
        previous = now


def run_row(row: str, tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    sock_dir = Path(tempfile.mkdtemp(prefix="bgbench-fleet-"))  # unix sockets: ≤ 107 bytes
    upstream_ports = {"a": (A_BLUE, A_GREEN), "b": (B_BLUE, B_GREEN)}
    live: dict[str, Color] = {"a": "blue", "b": B_LIVE}
    try:
        with shared_proxy(row, tmp / row, PROXY, sock_dir, upstream_ports, live) as proxy:
            return _measure(proxy, tmp / row, args)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def _measure(proxy: SharedProxy, tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    a, b = proxy["a"], proxy["b"]
    target = Target(proxy.row, lambda to: a.driver.switch(to).cutover_ms, proxy.process.worker_pids)
    b_before = _settled_counts(b)
    with (
        Probe("127.0.0.1", PROXY, "/a/health") as a_probe,
        Probe("127.0.0.1", PROXY, "/b/health") as b_probe,
    ):
        if a_probe.wait_for("blue", 0.0) is None or b_probe.wait_for(B_LIVE, 0.0) is None:
            raise RuntimeError(f"{proxy.row}: the services never answered from their colours.")
        started = time.monotonic()
        rate, connections = args.rate, args.connections
        with (
            HeyLoad(f"{a.url}/graphql", tmp / "a.json", connections, rate) as a_load,
            HeyLoad(f"{b.url}/graphql", tmp / "b.json", connections, rate) as b_load,
        ):
            time.sleep(1.0)  # every hey connection open and kept alive before the first switch
            run = switch_many(target, a_probe, args.switches, args.interval)
            time.sleep(0.5)
            a_result, b_result = a_load.stop(), b_load.stop()
        b_seen = b_probe.seen_between(started, time.monotonic())
    b_after = _settled_counts(b)
    return _summary(proxy, run, a_result, b_result, b_before, b_after, b_seen)


def _summary(
    proxy: SharedProxy,
    run: SwitchRun,
    a_result: LoadResult,
    b_result: LoadResult,
    b_before: dict[str, int],
    b_after: dict[str, int],
    b_seen: list[tuple[float, str]],
) -> dict[str, object]:
    cutovers = run.cutover_ms + run.rollback_ms
    served = {c: b_after.get(c, 0) - b_before.get(c, 0) for c in ("blue", "green")}
    b_idle = "blue" if B_LIVE == "green" else "green"
    return {
        "a_requests": a_result.requests,
        "a_failed": a_result.failures,
        "a_errors": a_result.errors,
        "b_requests": b_result.requests,
        "b_failed": b_result.failures,
        "b_errors": b_result.errors,
        "switches": len(cutovers) + run.missed,
        "missed": run.missed,
        "a_cutover_ms": {"p50": percentile(cutovers, 50), "p99": percentile(cutovers, 99)},
        "a_cutover_samples_ms": [round(v, 2) for v in cutovers],
        "b_served_by_colour": served,  # the proxy's own counters for B, over the whole run
        "b_other_colour_answers": served[b_idle],
        # The probe prints a colour when it changes: one idle-colour line means ≥ 1 such answer.
        "b_probe_other_colour": sum(1 for _, colour in b_seen if colour == b_idle),
        "b_probe_errors": sum(1 for _, colour in b_seen if colour not in ("blue", "green")),
        "b_live_after": proxy["b"].driver.read_back().color,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_switch", description=__doc__)
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between switches")
    parser.add_argument("--rate", type=int, default=300, help="POST req/s on each service")
    parser.add_argument("--connections", type=int, default=10, help="per service")
    parser.add_argument("--rows", default="nginx-live,haproxy", help=f"of {', '.join(ROWS)}")
    args = parser.parse_args(argv)
    rows = chosen(parser, args.rows, ROWS)
    require_hey()
    results: dict[str, dict[str, object]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bgbench-fleet-switch-"))
    try:
        with upstreams([A_BLUE, A_GREEN, B_BLUE, B_GREEN]):
            for row in rows:
                print(f"… {row}: {args.switches} switches of a under load on a and b", flush=True)
                results[row] = run_row(row, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    path = write_results("fleet_switch", {"config": vars(args), "rows": results})
    print_report(results, args.switches)
    print(f"\nJSON: {path}")
    return 0


# The printed table: header → the summary's key (a pair: a key inside a nested figure).
COLUMNS: tuple[tuple[str, str | tuple[str, str]], ...] = (
    ("switches", "switches"),
    ("a req", "a_requests"),
    ("a failed", "a_failed"),
    ("b req", "b_requests"),
    ("b failed", "b_failed"),
    ("a cut p50", ("a_cutover_ms", "p50")),
    ("a cut p99", ("a_cutover_ms", "p99")),
    ("b other colour", "b_other_colour_answers"),
    ("b probe other", "b_probe_other_colour"),
    ("b probe err", "b_probe_errors"),
    ("b live after", "b_live_after"),
)


def _cell(figures: dict[str, object], key: str | tuple[str, str]) -> str:
    if isinstance(key, str):
        return fmt(figures[key])
    nested = figures[key[0]]
    assert isinstance(nested, dict)
    return fmt(nested[key[1]])


def print_report(results: dict[str, dict[str, object]], switches: int) -> None:
    rows = [[row, *(_cell(figures, key) for _, key in COLUMNS)] for row, figures in results.items()]
    print()
    print(f"Two services behind one proxy: a switched {switches} times, keep-alive POST on both")
    print(table(["proxy", *(header for header, _ in COLUMNS)], rows))
    print("(ms; cut = a's switch issued → a's probe first sees the new colour; b other colour =")
    print(" b's answers from its idle colour by the proxy's own counters for b; b probe other =")
    print(" times b's probe saw its idle colour answer; b probe err = probe errors or non-2xx)")


if __name__ == "__main__":
    raise SystemExit(main())
