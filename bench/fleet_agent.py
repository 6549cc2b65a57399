"""What each idle service costs the one agent: its CPU, RSS and tick with 1, 5 and 20 services.

For each count N, a fleet of N web stand-ins (bench/fleet_world.py: one configuration directory,
one nginx, each service v1 live in blue and v2 ready in green) is brought up; the agent `deploy`
started is stopped and `python -m console --config DIR agent` started in its place. After
`--settle` s it idles for `--seconds` s while this reads its CPU time (utime + stime of every
thread, /proc/PID/stat) and its RSS (/proc/PID/status VmRSS, sampled each second; the mean),
scraping the exporter every `--scrape-every` s as a Prometheus server would (15 s, the common
setting; Prometheus's own default is a minute). Then, for `--tick-seconds` s, it scrapes each
second: each service's last tick duration (`bluegreen_agent_tick_duration_seconds`, one series
per service) is read there, and the agent's CPU over that window is the cost with a scrape a
second (the exporter's share, printed beside the idle figure). Then the fleet is taken down.

The per-service increment is the slope from the smallest count to each larger one. Issue 23's
targets: ≤ 0.2 % of a core and ≤ 3 MB per added idle service; the tick stays under its interval.

    python -m bench.fleet_agent [--counts 1,5,20] [--seconds 30] [--settle 10]
        [--scrape-every 15] [--tick-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import fmt, percentile, table, write_results
from bench.fleet_world import PORT_BASE, FleetWorld, bring_up

TICKS = os.sysconf("SC_CLK_TCK")
TICK_SERIES = re.compile(
    r'^bluegreen_agent_tick_duration_seconds\{[^}]*service="([^"]+)"[^}]*\} (\S+)$'
)
INTERVAL_SECONDS = 1.0  # the web profile's sample_interval_seconds: the tick's budget


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tick_seconds_of(metrics_url: str) -> dict[str, float]:
    """Each service's last tick duration, as the exporter says it."""
    with contextlib.suppress(OSError, ValueError):
        with urllib.request.urlopen(metrics_url, timeout=2) as response:
            text = response.read().decode()
        found = (TICK_SERIES.match(line) for line in text.splitlines())
        return {m.group(1): float(m.group(2)) for m in found if m}
    return {}


def measure(
    fleet: FleetWorld, settle: float, seconds: float, scrape_every: float, tick_seconds: float
) -> dict[str, object]:
    fleet.stop_agent()
    log = (fleet.directory / "state" / "bench-agent.log").open("ab")
    agent = subprocess.Popen(
        [sys.executable, "-m", "console", "--config", str(fleet.directory), "agent"],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            if agent.poll() is not None:
                raise SystemExit(f"the agent exited with {agent.returncode}; see {log.name}")
            time.sleep(0.2)
        ticks: list[float] = []
        idle = _window(agent.pid, fleet.metrics_url, seconds, scrape_every, ticks)
        scraped = _window(agent.pid, fleet.metrics_url, tick_seconds, 1.0, ticks)
        seen = tick_seconds_of(fleet.metrics_url)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        log.close()
    return {
        "services": len(fleet.services),
        "cpu_percent": idle["cpu_percent"],
        "cpu_percent_scraped_each_second": scraped["cpu_percent"],
        "rss_mb": idle["rss_mb"],
        "tick_p50_ms": _ms(percentile(ticks, 50)),
        "tick_max_ms": _ms(max(ticks) if ticks else None),
        "tick_samples": len(ticks),
        "services_reporting_ticks": sorted(seen),
    }


def _window(
    pid: int, metrics_url: str, seconds: float, scrape_every: float, ticks: list[float]
) -> dict[str, float]:
    """The agent's CPU (% of a core) and mean RSS over `seconds`, scraped every `scrape_every`
    s (the first at once); each scrape's tick durations go to `ticks`."""
    rss: list[float] = []
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    next_scrape = start
    while (now := time.monotonic()) - start < seconds:
        if now >= next_scrape:
            ticks.extend(tick_seconds_of(metrics_url).values())
            next_scrape += scrape_every
        rss.append(rss_mb(pid))
        time.sleep(1.0)
    used, wall = cpu_seconds(pid) - start_cpu, time.monotonic() - start
    return {"cpu_percent": 100.0 * used / wall, "rss_mb": sum(rss) / len(rss)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000.0 * seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,5,20", help="service counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured idle time")
    parser.add_argument("--settle", type=float, default=10.0, help="after the agent starts")
    parser.add_argument(
        "--scrape-every", type=float, default=15.0, help="the scrape interval while measured"
    )
    parser.add_argument(
        "--tick-seconds", type=float, default=20.0, help="then scraped each second, for ticks"
    )
    parser.add_argument("--port-base", type=int, default=PORT_BASE)
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.counts.split(",")})
    rows: list[dict[str, object]] = []
    for count in counts:
        print(f"── {count} service(s): bringing the fleet up…", flush=True)
        fleet = bring_up(services=count, port_base=args.port_base, say=lambda _: None)
        try:
            row = measure(fleet, args.settle, args.seconds, args.scrape_every, args.tick_seconds)
        finally:
            left = fleet.down()
        if left:
            raise SystemExit(f"the fleet was not removed whole: {left}")
        print(
            f"   cpu {fmt(row['cpu_percent'], 2)} % "
            f"({fmt(row['cpu_percent_scraped_each_second'], 2)} % scraped each second) · "
            f"rss {fmt(row['rss_mb'])} MB · tick p50 "
            f"{fmt(row['tick_p50_ms'])} ms, max {fmt(row['tick_max_ms'])} ms",
            flush=True,
        )
        rows.append(row)
    first = rows[0]
    for row in rows:
        extra = int(str(row["services"])) - int(str(first["services"]))
        for key in ("cpu_percent", "cpu_percent_scraped_each_second", "rss_mb"):
            delta = float(str(row[key])) - float(str(first[key]))
            row[f"{key}_per_service"] = delta / extra if extra else None
    print(
        table(
            [
                "services",
                "CPU % core",
                "RSS MB",
                "tick p50 ms",
                "tick max ms",
                "+CPU/svc",
                "+CPU/svc, 1-s scrape",
                "+MB/svc",
            ],
            [
                [
                    str(r["services"]),
                    fmt(r["cpu_percent"], 2),
                    fmt(r["rss_mb"]),
                    fmt(r["tick_p50_ms"]),
                    fmt(r["tick_max_ms"]),
                    fmt(r["cpu_percent_per_service"], 3),
                    fmt(r["cpu_percent_scraped_each_second_per_service"], 3),
                    fmt(r["rss_mb_per_service"], 2),
                ]
                for r in rows
            ],
        )
    )
    print(
        f"targets per added idle service: ≤ 0.2 % of a core, ≤ 3 MB; tick < {INTERVAL_SECONDS:g} s"
    )
    path = write_results(
        "fleet_agent",
        {
            "seconds": args.seconds,
            "settle": args.settle,
            "scrape_every": args.scrape_every,
            "tick_seconds": args.tick_seconds,
            "interval_seconds": INTERVAL_SECONDS,
            "rows": rows,
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
