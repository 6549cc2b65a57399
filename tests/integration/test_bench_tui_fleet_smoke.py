"""The fleet-overview benchmark runs end to end in a tiny configuration (real stores, real Docker
floods, the real app headless).

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


def test_tui_fleet_reports_key_to_frame_on_the_overview(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.tui_fleet",
            *("--services", "5", "--seconds", "4", "--rate", "200", "--presses", "12"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BLUEGREEN_BENCH_RESULTS": str(tmp_path)},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (
        "overview keys (move, sort, filter)" in done.stdout
        and "5 services on the overview" in done.stdout
    )
    data: dict[str, Any] = json.loads((tmp_path / "tui_fleet.json").read_text())
    assert data["benchmark"] == "tui_fleet" and data["rows"] == 5
    latency = data["latency_ms"]
    assert data["presses"] == 12 and len(latency["samples"]) == 12
    assert set(latency["by_key"]) == {
        "down", "sort", "up", "/", "filter", "clear", "enter", "wrap", "esc"
    }  # fmt: skip
    assert set(latency["by_kind"]) == {"move", "sort", "filter", "enter", "esc"}
    assert all(by["p95"] is not None for by in latency["by_kind"].values())
    assert data["gc"]["collections"] >= data["gc"]["full"] >= 0
    # Every key's effect reached the screen: none fell back to the timeout's figure.
    assert max(latency["samples"]) < 5000
    assert latency["p99"] >= latency["p50"] > 0
    # The flood reached the app through the opened service's log pane.
    assert data["lines_received"]["blue"] > 0
    assert data["frames"] > 0 and set(data["met"]) == {"overview_p99"}
    names = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not set(data["settings"]["flood_containers"].values()) & set(names)
