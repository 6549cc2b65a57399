"""What one height sample costs at 10 million rows: a persistent connection vs `psql` per sample.

A private PostgreSQL (port 29050, data under /var/tmp/bgbench-pg, kept between runs) holds the
source's `blocks` and the destination's `explorer_block_details` + `index_watermarks`, `--rows`
rows each. One sample is what readiness reads every interval: the head and the candidate height.

  new   SqlProgress (one persistent psycopg connection per source): the configured head query
        `SELECT MAX(height) - 1 FROM blocks` and the watermark row
  old   the old monitor: spawn `psql` (PGPASSWORD in env) for MAX(height) on each database

EXPLAIN shows both MAX queries are an `Index Only Scan Backward` under a `Limit`, whatever the size.

    python -m bench.sampling_cost [--rows 10000000] [--samples 200]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.common import fmt, percentile, ratio, table, write_results
from console.drivers.progress.base import Place
from console.drivers.progress.sql import SqlProgress
from console.sandbox.postgres_proc import PostgresServer, find_pg_bin

PORT = 29050
ROOT = Path("/var/tmp/bgbench-pg")
HEAD_QUERY = "SELECT MAX(height) - 1 FROM blocks"
CANDIDATE_QUERY = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"
OLD_HEAD_QUERY = "SELECT MAX(height) FROM blocks"
OLD_CANDIDATE_QUERY = "SELECT MAX(height) FROM explorer_block_details"

SOURCE_SCHEMA = """
CREATE TABLE blocks (
    rowid BIGINT PRIMARY KEY,
    height BIGINT NOT NULL,
    chain_id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
INSERT INTO blocks SELECT g, g, 'penumbra-1', now() - (%(rows)s - g) * interval '5 seconds'
    FROM generate_series(1, %(rows)s) AS g;
ALTER TABLE blocks ADD UNIQUE (height, chain_id);
"""
DEST_SCHEMA = """
CREATE TABLE explorer_block_details (
    height BIGINT NOT NULL,
    root BYTEA NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    num_transactions INT NOT NULL
);
INSERT INTO explorer_block_details
    SELECT g, int8send(g * 2654435761), now() - (%(rows)s - g) * interval '5 seconds', g %% 7
    FROM generate_series(1, %(rows)s) AS g;
ALTER TABLE explorer_block_details ADD PRIMARY KEY (height);
CREATE TABLE index_watermarks (index_name TEXT PRIMARY KEY, height BIGINT, version BIGINT);
INSERT INTO index_watermarks VALUES ('explorer', %(rows)s, 1);
"""


def server(root: Path, port: int) -> PostgresServer:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # the postgres user traverses it
    secret = root / "password"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(18))
        secret.chmod(0o600)
    return PostgresServer(root / "data", port, secret.read_text().strip())


def prepare(pg: PostgresServer, rows: int) -> tuple[str, str, float]:
    """Both databases for `rows` (built once and cached); their URLs and the build seconds."""
    started = time.monotonic()
    urls = []
    for kind, schema in (("chain", SOURCE_SCHEMA), ("dest", DEST_SCHEMA)):
        name = f"bench_{kind}_{rows}"
        url = pg.create_database(name)
        urls.append(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (complete BOOLEAN)")
            if conn.execute("SELECT 1 FROM bench_meta").fetchone():
                continue
            print(f"… building {name}: {rows:,} rows (cached for later runs)", flush=True)
            conn.execute("DROP TABLE IF EXISTS blocks, explorer_block_details, index_watermarks")
            with conn.transaction():
                conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                for statement in schema.split(";"):
                    if statement.strip():
                        conn.execute(statement.replace("%(rows)s", str(rows)).replace("%%", "%"))
            conn.execute("VACUUM ANALYZE")  # visibility map: index-only scans stay index-only
            conn.execute("INSERT INTO bench_meta VALUES (true)")
    return urls[0], urls[1], time.monotonic() - started


def explain(url: str, query: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + query).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def sample_new(head: SqlProgress, candidate: SqlProgress) -> float:
    started = time.perf_counter()
    head.read()
    candidate.read()
    return (time.perf_counter() - started) * 1e3


def psql_argv(url: str, query: str) -> tuple[list[str], dict[str, str]]:
    # The old script's way: host/port/user on the command line, the password in the environment.
    parsed = psycopg.conninfo.conninfo_to_dict(url)
    argv = [find_pg_bin("psql"), "-h", str(parsed["host"]), "-p", str(parsed["port"])]
    argv += ["-U", str(parsed["user"]), "-d", str(parsed["dbname"]), "-tAc", query]
    return argv, {**os.environ, "PGPASSWORD": str(parsed["password"])}


def sample_old(commands: list[tuple[list[str], dict[str, str]]]) -> float:
    started = time.perf_counter()
    for argv, env in commands:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise RuntimeError(f"psql failed: {done.stderr.strip()[:200]}")
    return (time.perf_counter() - started) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sampling_cost", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--old-samples", type=int, default=None, help="psql samples (= samples)")
    parser.add_argument("--stop", action="store_true", help="stop the server afterwards")
    parser.add_argument("--root", type=Path, default=ROOT, help="cluster and password (cached)")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    old_samples = args.old_samples or args.samples

    pg = server(args.root, args.port)
    pg.start()
    pg.wait_ready()
    try:
        source_url, dest_url, build_s = prepare(pg, args.rows)
        plans = {
            "head (new)": explain(source_url, HEAD_QUERY),
            "candidate (new)": explain(dest_url, CANDIDATE_QUERY),
            "MAX(height) on explorer_block_details (old)": explain(dest_url, OLD_CANDIDATE_QUERY),
        }
        head = SqlProgress(Place("head", "source database"), source_url, HEAD_QUERY)
        candidate = SqlProgress(Place("candidate", "blue database"), dest_url, CANDIDATE_QUERY)
        max_candidate = SqlProgress(
            Place("candidate", "blue database"), dest_url, OLD_CANDIDATE_QUERY
        )
        try:
            if head.read().height != args.rows - 1 or candidate.read().height != args.rows:
                raise RuntimeError("the benchmark tables do not hold the expected heights")
            sample_new(head, candidate)  # connect outside the measurement, as the agent does
            sample_new(head, max_candidate)
            new = [sample_new(head, candidate) for _ in range(args.samples)]
            new_max = [sample_new(head, max_candidate) for _ in range(args.samples)]
        finally:
            for source in (head, candidate, max_candidate):
                source.close()
        commands = [psql_argv(source_url, OLD_HEAD_QUERY), psql_argv(dest_url, OLD_CANDIDATE_QUERY)]
        old = [sample_old(commands) for _ in range(old_samples)]
    finally:
        if args.stop:
            pg.stop()

    figures = {
        "new": {"p50": percentile(new, 50), "p99": percentile(new, 99), "n": len(new)},
        "new_max_query": {
            "p50": percentile(new_max, 50),
            "p99": percentile(new_max, 99),
            "n": len(new_max),
        },
        "old_psql": {"p50": percentile(old, 50), "p99": percentile(old, 99), "n": len(old)},
    }
    index_used = all(
        "Index Only Scan Backward" in plans[k] and "Limit" in plans[k]
        for k in ("head (new)", "MAX(height) on explorer_block_details (old)")
    )
    path = write_results(
        "sampling_cost",
        {
            "rows": args.rows,
            "build_seconds": round(build_s, 1),
            "samples_ms": figures,
            "plans": plans,
            "index_only_scan_backward": index_used,
        },
    )
    old_p50 = figures["old_psql"]["p50"]
    old_p99 = figures["old_psql"]["p99"]
    rows = [
        [
            "SqlProgress: head + watermark",
            fmt(figures["new"]["p50"], 2),
            fmt(figures["new"]["p99"], 2),
            ratio(old_p50, figures["new"]["p50"]),
            ratio(old_p99, figures["new"]["p99"]),
        ],
        [
            "SqlProgress: head + MAX(height) dest",
            fmt(figures["new_max_query"]["p50"], 2),
            fmt(figures["new_max_query"]["p99"], 2),
            ratio(old_p50, figures["new_max_query"]["p50"]),
            ratio(old_p99, figures["new_max_query"]["p99"]),
        ],
        ["old: psql ×2 per sample", fmt(old_p50, 2), fmt(old_p99, 2), "1.0×", "1.0×"],
    ]
    print()
    print(f"One height sample (head + candidate) at {args.rows:,} rows per table, ms")
    print(table(["method", "p50", "p99", "p50 vs old", "p99 vs old"], rows))
    print()
    for name, plan in plans.items():
        print(f"EXPLAIN {name}:")
        print("  " + plan.replace("\n", "\n  "))
    print(f"\nIndex Only Scan Backward + Limit on both MAX queries: {index_used}")
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
