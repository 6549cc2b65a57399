"""What one parity check costs at 10 million rows per colour, with the table's primary-key index.

The same private PostgreSQL as bench.sampling_cost (port 29050, data under /var/tmp/bgbench-pg,
kept between runs) holds blue's `explorer_block_details` + `index_watermarks` (`--rows` rows) and
green's, a `CREATE DATABASE … TEMPLATE` copy of blue's (cached too). One parity run is what
`bluegreen parity`, the agent (every `readiness.parity_interval_seconds`) and a switch do: read
both colours' heights afresh, pin H = min − margin, and run every check on each colour:

  block hash        SELECT root … WHERE height = {height}                 (one row by the PK)
  last 1000 hashes  count || md5(string_agg(root, … ORDER BY height)) over H−999..H (a PK range)

Also printed: the agent's CPU for parity (this process's CPU time per run × runs per second at a
given interval), since parity runs inside the agent on a schedule.

    python -m bench.parity [--rows 10000000] [--runs 200] [--interval 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.common import fmt, percentile, table, write_results
from bench.sampling_cost import PORT, ROOT, prepare, server
from console.core.config.load import parse_config
from console.core.redact import Redactor
from console.drivers.parity import ParityRunner

BLOCK_HASH = "SELECT root FROM explorer_block_details WHERE height = {height}"
WINDOW = (
    "SELECT count(*) || ':' || md5(string_agg(encode(root, 'hex'), ',' ORDER BY height)) "
    "FROM explorer_block_details WHERE height > {height} - 1000 AND height <= {height}"
)


def green_copy(admin_url: str, blue_db: str) -> str:
    """Green's database: a file-level copy of blue's (CREATE DATABASE … TEMPLATE), cached."""
    green_db = blue_db.replace("dest", "green")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (green_db,))
        if exists.fetchone() is None:
            print(f"… copying {blue_db} to {green_db} (cached for later runs)", flush=True)
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (blue_db,),
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(green_db), sql.Identifier(blue_db)
                )
            )
    return green_db


def config_text(source_url: str, blue_url: str, green_url: str, only: str | None = None) -> str:
    checks = {"block hash": BLOCK_HASH, "last 1000 hashes": WINDOW}
    entries = "".join(
        f'[[parity]]\nkind = "sql"\nname = "{name}"\nquery = "{query}"\n'
        for name, query in checks.items()
        if only in (None, name)
    )
    return f"""
service = "bench"
[image]
repository = "bench"
[source]
db_url = "{source_url}"
[candidate]
kind = "sql"
query = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"
[slots.blue]
container = "bench-blue"
host_port = 29051
db_url = "{blue_url}"
[slots.green]
container = "bench-green"
host_port = 29052
db_url = "{green_url}"
[readiness]
parity_margin = 10
{entries}"""


def measure(text: str, runs: int) -> tuple[list[float], list[float], str]:
    """Wall ms and this process's CPU ms per run; the last report's summary."""
    config = parse_config(text, Path("bench.toml"))
    runner = ParityRunner(config, Redactor(config.secret_values))
    try:
        first = runner.run()  # connect outside the measurement, as the agent's sampler does
        if not first.all_match:
            raise RuntimeError(f"the benchmark colours should match: {first}")
        wall, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            report = runner.run()
            wall.append((time.perf_counter() - started) * 1e3)
            cpu.append((time.process_time() - started_cpu) * 1e3)
        assert report.all_match and report.height is not None
        return wall, cpu, f"H = {report.height}, {len(report.checks)} check(s) match"
    finally:
        runner.close()


def explain(url: str, query: str, height: int) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + query.replace("{height}", str(height))
        ).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.parity", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--interval", type=float, default=30.0, help="the agent's parity interval")
    parser.add_argument("--stop", action="store_true", help="stop the server afterwards")
    parser.add_argument("--root", type=Path, default=ROOT, help="cluster and password (cached)")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)

    pg = server(args.root, args.port)
    pg.start()
    pg.wait_ready()
    try:
        source_url, blue_url, build_s = prepare(pg, args.rows)
        blue_db = blue_url.rsplit("/", 1)[1]
        green_url = pg.url(green_copy(pg.url("postgres"), blue_db))
        height = args.rows - 10
        plans = {name: explain(blue_url, q, height) for name, q in (
            ("block hash", BLOCK_HASH), ("last 1000 hashes", WINDOW))}  # fmt: skip
        results = {
            label: measure(config_text(source_url, blue_url, green_url, only), args.runs)
            for label, only in (
                ("block hash", "block hash"),
                ("last 1000 hashes", "last 1000 hashes"),
                ("both checks (the sandbox's)", None),
            )
        }
    finally:
        if args.stop:
            pg.stop()

    figures: dict[str, dict[str, float | None]] = {}
    rows = []
    for label, (wall, cpu, said) in results.items():
        cpu_p50 = percentile(cpu, 50) or 0.0
        share = cpu_p50 / (args.interval * 1e3) * 100  # % of one core at that interval
        figures[label] = {
            "p50_ms": percentile(wall, 50),
            "p99_ms": percentile(wall, 99),
            "max_ms": max(wall),
            "cpu_p50_ms": cpu_p50,
            "agent_cpu_percent_of_core": share,
        }
        rows.append([
            label, fmt(percentile(wall, 50), 2), fmt(percentile(wall, 99), 2), fmt(max(wall), 2),
            fmt(cpu_p50, 2), f"{share:.4f} %", said,
        ])  # fmt: skip
    path = write_results(
        "parity",
        {
            "rows": args.rows,
            "runs": args.runs,
            "interval_seconds": args.interval,
            "build_seconds": round(build_s, 1),
            "figures": figures,
            "plans": plans,
        },
    )
    print()
    print(f"One parity run (both heights + each check on both colours) at {args.rows:,} rows, ms")
    headers = ["checks", "p50", "p99", "max", "CPU p50", f"agent CPU @ {args.interval:g} s", ""]
    print(table(headers, rows))
    print()
    for name, plan in plans.items():
        print(f"EXPLAIN {name} (H = {height}):")
        print("  " + plan.replace("\n", "\n  "))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
