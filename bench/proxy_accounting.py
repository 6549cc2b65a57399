"""What per-colour counting costs: req/s and p99 through nginx with the counters vs without.

One private nginx (live mode) in front of the benchmark upstreams; the location include is
rewritten between rounds — with the counting Lua (as `proxy install` writes it), with the same
counting batched per worker (`count_on_log_batched`), or with the same colour pick and no
counting — and nginx reloaded. Rounds alternate (A, B, A, B, …) so drift on a
shared machine hits both alike; each round is `hey -n N -c C` of keep-alive POSTs, unthrottled.
The counters are read back at the end: they must hold every counted request.

hey reports p99 in 0.1 ms steps, and on a loaded machine the rounds spread by milliseconds, so the
bench also measures what the counting adds to each request directly: the nginx workers' CPU time
(utime + stime from /proc) over a round, per request. The counting Lua runs inline in the
request's own phases, so its CPU per request is what it adds to that request's latency when
nothing waits for a core — resolved to about 1 µs over 20,000 requests.

    python -m bench.proxy_accounting [--rounds 3] [--requests 20000] [--connections 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import GRAPHQL_BODY, free_port_or_exit, table, upstreams, write_results
from console.core.config.proxy import NginxProxyConfig
from console.core.config.schema import Config, SlotConfig
from console.core.measures.traffic import TrafficSnapshot
from console.drivers.proxy.nginx.driver import LOCATION_FILE, render_location_conf
from console.drivers.proxy.nginx.live import NginxLiveDriver
from console.drivers.proxy.nginx.traffic import COUNT_ON_LOG, OPEN_AND_RETURN, count_on_log_batched
from console.sandbox.nginx_proc import NginxProcess

PROXY, ADMIN, BLUE, GREEN = 29060, 29061, 29062, 29063


def without_counters() -> str:
    text = render_location_conf("live")
    # The same pick (live colour, preview and canary routes), counting nothing.
    assert COUNT_ON_LOG in text and OPEN_AND_RETURN in text
    return text.replace(COUNT_ON_LOG, "").replace(OPEN_AND_RETURN, "    return live\n}\n")


def hey(url: str, body: Path, requests: int, connections: int) -> tuple[float, float, int]:
    """(req/s, p99 ms, failures) of one unthrottled round."""
    argv = ["hey", "-n", str(requests), "-c", str(connections), "-m", "POST"]
    argv += ["-T", "application/json", "-D", str(body), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%% in ([\d.]+) secs".replace("%%", "%"), out)
    ok = re.search(r"\[200\]\s+(\d+) responses", out)
    if not rps or not p99:
        raise RuntimeError(f"cannot read hey's summary:\n{out[-1500:]}")
    return float(rps.group(1)), float(p99.group(1)) * 1e3, requests - int(ok.group(1) if ok else 0)


def workers_cpu_seconds(proc: NginxProcess) -> float:
    """The CPU time (user + system) nginx's current workers have used."""
    ticks = 0
    for pid in proc.worker_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # an old worker that just exited
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args(argv)
    free_port_or_exit(PROXY)
    tmp = Path(tempfile.mkdtemp(prefix="bgbench-acct-", dir="/var/tmp"))
    body = tmp / "body.json"
    body.write_text(GRAPHQL_BODY)
    proc = NginxProcess(tmp / "nginx", PROXY, ADMIN, tmp / "nginx" / "bluegreen")
    proc.write_main_conf()
    slots = {
        "blue": SlotConfig(container="b", host_port=BLUE, db_url="postgresql://x/b"),
        "green": SlotConfig(container="g", host_port=GREEN, db_url="postgresql://x/g"),
    }
    proxy = NginxProxyConfig(
        mode="live",
        include_dir=str(proc.include_dir),
        proxy_url=f"http://127.0.0.1:{PROXY}",
        admin_socket=str(tmp / "admin.sock"),
        test_command=proc.test_command(),
        reload_command=proc.reload_command(),
    )
    driver = NginxLiveDriver(
        Config(service="bench", state_dir=str(tmp / "state"), slots=slots, proxy=proxy)
    )
    figures: dict[str, list[tuple[float, float, int, float]]] = {
        "with counters": [],
        "batched": [],
        "without": [],
    }
    try:
        counted_requests, traffic = measure(args, proc, driver, body, figures)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report(args, figures, counted_requests, traffic)


def measure(
    args: argparse.Namespace,
    proc: NginxProcess,
    driver: NginxLiveDriver,
    body: Path,
    figures: dict[str, list[tuple[float, float, int, float]]],
) -> tuple[int, TrafficSnapshot | None]:
    counted = render_location_conf("live")
    batched = counted.replace(COUNT_ON_LOG, count_on_log_batched())
    plain = without_counters()
    url = f"http://127.0.0.1:{PROXY}/graphql"
    with upstreams([BLUE, GREEN]):
        driver.write_files("blue")
        with proc:
            proc.start()
            driver.install("blue")
            counted_requests = 0
            for _ in range(args.rounds):
                variants = (("without", plain), ("with counters", counted), ("batched", batched))
                for name, text in variants:
                    (proc.include_dir / LOCATION_FILE).write_text(text)
                    proc.reload()
                    time.sleep(1.0)  # old workers gone, new ones listening
                    hey(url, body, 500, args.connections)  # warm the keep-alive pools
                    cpu = workers_cpu_seconds(proc)
                    rps, p99, failed = hey(url, body, args.requests, args.connections)
                    cpu_us = (workers_cpu_seconds(proc) - cpu) / args.requests * 1e6
                    figures[name].append((rps, p99, failed, cpu_us))
                    if name != "without":
                        counted_requests += args.requests + 500
            time.sleep(0.5)  # the batched variant's last timer flush
            return counted_requests, driver.traffic()


def report(
    args: argparse.Namespace,
    figures: dict[str, list[tuple[float, float, int, float]]],
    counted_requests: int,
    traffic: TrafficSnapshot | None,
) -> int:
    seen = traffic.colours["blue"].requests if traffic and "blue" in traffic.colours else 0
    rows, data = [], {}
    for name, runs in figures.items():
        rps = statistics.median(r[0] for r in runs)
        p99 = statistics.median(r[1] for r in runs)
        failed = sum(r[2] for r in runs)
        cpu_us = statistics.median(r[3] for r in runs)
        data[name] = {
            "rps": rps,
            "p99_ms": p99,
            "failed": failed,
            "cpu_us_per_request": cpu_us,
            "rounds": runs,
        }
        rows.append([name, f"{rps:,.0f}", f"{p99:.2f}", f"{cpu_us:.1f}", str(failed)])
    base = data["without"]
    costs: dict[str, dict[str, float]] = {}
    headers = ["nginx live mode", "req/s (median)", "p99 ms", "nginx CPU µs/request", "failed"]
    print(table(headers, rows))
    for name in ("with counters", "batched"):
        variant = data[name]
        cost = 1 - variant["rps"] / base["rps"]  # type: ignore[operator]
        added = (variant["p99_ms"] - base["p99_ms"]) * 1e3  # type: ignore[operator]
        cpu_added = variant["cpu_us_per_request"] - base["cpu_us_per_request"]  # type: ignore[operator]
        costs[name] = {
            "throughput_cost": cost,
            "p99_added_us": added,
            "cpu_added_us_per_request": cpu_added,
        }
        print(
            f"{name}: counting costs {cost * 100:+.1f} % throughput and {added:+.0f} µs p99 "
            f"(target ≤ 3 %, ≤ 50 µs); it adds {cpu_added:+.1f} µs of nginx CPU to each request"
        )
    throughput_cost = costs["with counters"]["throughput_cost"]
    p99_added_us = costs["with counters"]["p99_added_us"]
    print(
        f"the counters hold {seen:,} of the {counted_requests:,} requests sent while counting "
        "(+ the install's probes)"
    )
    path = write_results(
        "proxy_accounting",
        {
            "args": vars(args),
            "results": data,
            "costs": costs,
            "throughput_cost": throughput_cost,
            "p99_added_us": p99_added_us,
            "cpu_added_us_per_request": costs["with counters"]["cpu_added_us_per_request"],
            "counted": seen,
            "sent_while_counting": counted_requests,
        },
    )
    print(f"results: {path}")
    return 0 if seen >= counted_requests else 1


if __name__ == "__main__":
    sys.exit(main())
