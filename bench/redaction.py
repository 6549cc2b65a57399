"""How fast a re-index's log stream is redacted and sanitized (what `logs -f` and the console's
log pane do to every line), against `str.replace` of the one secret as the floor.

    python -m bench.redaction [--lines 100000]
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.common import fmt, table, write_results
from console.core.redact import Redactor, sanitize_log_line

DB_URL = "postgres://indexer:s3cr%40t-Pw@db.internal:5432/explorer"


def lines(count: int) -> list[str]:
    made = [
        f"\x1b[2m2024-05-01T12:00:{i % 60:02d}Z\x1b[0m \x1b[32m INFO\x1b[0m explorer: "
        f"Processing block height {1_000_000 + i} with {i % 7} transactions"
        for i in range(count)
    ]
    made[::500] = [f"connecting to {DB_URL} password=x"] * len(made[::500])
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args(argv)
    text = lines(args.lines)
    raw = [f"{line}\n".encode() for line in text]
    redactor = Redactor([DB_URL])
    redactor.redact(text[0])  # warm up
    timings: dict[str, float] = {}
    for name, work in (
        ("str.replace (floor)", lambda: [line.replace(DB_URL, "***") for line in text]),
        ("redact", lambda: [redactor.redact(line) for line in text]),
        ("sanitize + redact", lambda: [sanitize_log_line(line, redactor) for line in raw]),
    ):
        started = time.perf_counter()
        work()
        timings[name] = time.perf_counter() - started
    per_line = {name: seconds / args.lines * 1e6 for name, seconds in timings.items()}
    floor = per_line["str.replace (floor)"]
    rows = [
        [name, fmt(seconds * 1000), fmt(per_line[name], 2), fmt(per_line[name] / floor, 1)]
        for name, seconds in timings.items()
    ]
    print(table(["step", f"ms for {args.lines:,} lines", "µs per line", "× floor"], rows))
    path = write_results("redaction", {"lines": args.lines, "us_per_line": per_line})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
