"""The TUI-under-load benchmark runs end to end in a tiny configuration (real sandbox and Docker).

It asserts what the benchmark reports, never how fast: timing belongs to docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_tui_under_load_reports_latency_memory_and_cpu(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.tui_under_load",
            *("--seconds", "3", "--rate", "200", "--idle-seconds", "2", "--presses", "10"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BLUEGREEN_BENCH_RESULTS": str(tmp_path)},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "key → frame p99" in done.stdout
    data: dict[str, Any] = json.loads((tmp_path / "tui_under_load.json").read_text())
    assert data["benchmark"] == "tui_under_load"
    assert data["machine"]["nproc"] >= 1
    assert data["presses"] == 10
    latency = data["latency_ms"]
    assert len(latency["samples"]) == 10
    assert {label[0] for label in latency["by_key"]} == {"w", "p", "l"}
    assert latency["p50"] is not None and latency["p99"] >= latency["p50"]
    # The flood really reached the app, from both colours (`l` flips the followed one).
    assert data["lines_received"]["blue"] > 0 and data["lines_received"]["green"] > 0
    assert data["frames"] > 0
    assert data["rss_mb"]["flood_start"] > 0 and data["rss_mb"]["flood_end"] > 0
    assert set(data["cpu_percent"]) == {"flood", "idle"}
    assert data["cpu_seconds"]["flood"] > 0
    assert set(data["met"]) == {"p99", "memory_growth", "idle_cpu"}
    # Everything it started is gone: no flood container survives the run.
    names = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not set(data["settings"]["flood_containers"].values()) & set(names)
