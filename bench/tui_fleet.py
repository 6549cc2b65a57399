"""The overview of 20 services under a log flood: key press → screen update (issue 23).

A fleet directory of `--services` service files (host.toml plus one file each) is read by
`load_fleet`, as `bluegreen ui` does, and each service gets its real console
(`console.wiring.open_console`) and its own SQLite store, seeded the way an agent publishes: blue
live on v1 with traffic, the idle colour syncing, ready, failed or empty by turns. The overview
reads every store on its own worker each second. Two flood containers (tui_under_load's, at
`--rate` lines/s each) stand in for every service's colours (each console's slots are pointed at
them after loading), so whichever service the cursor opens, its log pane follows a real flood
through Docker, sanitising and redaction.

The keys cycle `down s up / f esc enter w esc`: moving the cursor, sorting, opening the filter,
typing into it (`f` keeps the failed services' rows), clearing it, opening the selected service's
screen (its log pane starts following the flood), wrapping its logs, and back to the overview.
Latency, per key: from posting the `Key` event (as the terminal's input thread does) to the end of
the first frame composed after the key's effect (the cursor moved, the sort changed, the filter
field shown, the rows filtered, the rows back, the screen changed, the wrap flipped), with the
terminal's escape sequences rendered as in tui_under_load. Reported per key and per kind (move,
sort, filter, enter, esc) at p50, p95 and p99. No agent runs and no container but the floods: the
stores hold what an agent would have published, so the rows say "agent stopped" — as they would.
`--stacks MS` samples the event loop's stack while a key is pending and prints where the presses
slower than MS spent it (bench/loop_stacks.py; for finding causes, it perturbs the figures).

    python -m bench.tui_fleet [--services 20] [--seconds 90] [--rate 5000] [--presses 360]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual import events
from textual._compositor import CompositorUpdate
from textual.screen import Screen
from textual.widgets import Input

from bench.common import fmt, percentile, table, write_results
from bench.loop_stacks import Collections, LoopSampler, collections_text
from bench.tui_under_load import (
    CpuWindow,
    counting,
    remove_floods,
    rss_mb,
    start_floods,
    verdict,
)
from console.core.config.fleet import load_fleet
from console.core.config.schema import Config, SlotConfig
from console.core.measures.traffic import TrafficFigures
from console.core.model import COLORS, Color, Condition, SlotState, SlotStatus
from console.core.service import Console
from console.core.store.store import Store
from console.tui import app as tui_app
from console.tui.app import BluegreenApp
from console.tui.screens.fleet import FleetWatchScreen
from console.tui.widgets.fleet_table import FleetTable
from console.tui.widgets.log_pane import LogPane
from console.wiring import open_console

# (label, key): the same key is two labels where it means two things (esc clears the filter on
# the overview, and goes back to it from a service's screen).
KEY_CYCLE = (
    ("down", "down"),
    ("sort", "s"),
    ("up", "up"),
    ("/", "slash"),
    ("filter", "f"),
    ("clear", "escape"),
    ("enter", "enter"),
    ("wrap", "w"),
    ("esc", "escape"),
)
KINDS = {
    "move": ("down", "up"),
    "sort": ("sort",),
    "filter": ("/", "filter", "clear"),
    "enter": ("enter",),
    "esc": ("esc",),
}
OVERVIEW_KEYS = ("move", "sort", "filter")
FRAME_TIMEOUT = 5.0
TARGET_P99_MS = 50.0
SIZE = (160, 50)


# ── the fleet: service files, seeded stores, consoles on the floods ──────────────────────────


def write_fleet(root: Path, count: int) -> Path:
    etc = root / "etc"
    etc.mkdir()
    (etc / "host.toml").write_text(
        f'state_dir = "{root / "state"}"\n[proxy]\ninclude_dir = "{root / "nginx"}"\n'
        'proxy_url = "http://127.0.0.1:9"\n'  # never asked: the overview reads the stores
    )
    for index in range(count):
        name = f"svc{index + 1:02d}"
        port = 40_000 + 2 * index  # in the file only: nothing listens or is asked
        (etc / f"{name}.toml").write_text(
            f'[image]\nrepository = "bench-{name}"\n'
            f'[slots.blue]\ncontainer = "bench-{name}-blue"\nhost_port = {port}\n'
            f'[slots.green]\ncontainer = "bench-{name}-green"\nhost_port = {port + 1}\n'
        )
    return etc


def seed(config: Config, index: int) -> None:
    """What an agent publishes: blue live on v1 with traffic; green by turns."""
    store = Store.open(config.state_dir)
    try:
        now = time.time()
        traffic = TrafficFigures(rps=50.0 + index, error_rate=0.001 * (index % 4), p99_ms=80.0)
        store.put_slot_status(
            SlotStatus("blue", SlotState.LIVE, "app:v1", "v1", container_state="running",
                       healthy=True, ready=True, traffic=traffic, updated_at=now)
        )  # fmt: skip
        shape = (SlotState.SYNCING, SlotState.READY, SlotState.FAILED, SlotState.EMPTY)[index % 4]
        gate = (
            Condition("health /health", True),
            Condition("lag ≤ 2 for 5 s", shape is SlotState.READY),
        )
        store.put_slot_status(
            SlotStatus("green", shape, "app:v2", "v2", progress=(index % 10) / 10,
                       eta_seconds=60.0 * index, conditions=gate, updated_at=now,
                       reason="Stalled at height 1200 for 600 s (lag 800)."
                       if shape is SlotState.FAILED else None)
        )  # fmt: skip
        store.set_live("blue", None)
    finally:
        store.close()


def on_floods(config: Config, names: dict[Color, str]) -> Config:
    slots: dict[str, SlotConfig] = {
        color: dataclasses.replace(config.slot(color), container=names[color]) for color in COLORS
    }
    return dataclasses.replace(config, slots=slots)


# ── the app, instrumented ───────────────────────────────────────────────────────────────────────


class MeasuredFleetApp(BluegreenApp):
    """The real app; after each frame, notes whether the pressed key's effect is on screen."""

    CSS_PATH = str(Path(tui_app.__file__).with_name("app.tcss"))

    def __init__(self, consoles: dict[str, Console]) -> None:
        super().__init__(consoles)
        self.frames = 0
        self.frame_event = asyncio.Event()
        self.terminal_bytes = 0
        self.effect: Callable[[], bool] | None = None
        self.effect_frame: float | None = None
        self.pressed: list[tuple[float, float]] = []  # each press's perf_counter span

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if self.is_headless and isinstance(renderable, CompositorUpdate):
            self.terminal_bytes += len(renderable.render_segments(self.console))
        super()._display(screen, renderable)
        if renderable is None or self._batch_count:  # nothing reached the terminal
            return
        self.frames += 1
        if self.effect is not None and self.effect_frame is None and self.effect():
            self.effect_frame = time.perf_counter()
        self.frame_event.set()


def effect_of(app: MeasuredFleetApp, label: str) -> Callable[[], bool]:
    """What pressing the key labelled `label` changes, read before the press."""
    overview = app.overview
    assert isinstance(overview, FleetWatchScreen)
    table_ = overview.query_one(FleetTable)
    field = overview.query_one("#fleet-filter", Input)
    if label in ("down", "up"):
        before = table_.highlighted
        return lambda: table_.highlighted != before
    if label == "sort":
        sort = overview.sort
        return lambda: overview.sort != sort
    if label == "/":
        return lambda: bool(field.display) and app.focused is field  # main hid the field
    if label == "filter":
        needle = overview.needle
        return lambda: overview.needle != needle and table_.option_count == len(overview.rows)
    if label == "clear":
        return lambda: (
            not overview.needle
            and app.focused is table_
            and table_.option_count == len(overview.rows)
        )
    if label == "enter":
        return lambda: app.screen is not overview and app.screen.is_attached
    if label == "esc":
        return lambda: app.screen is overview
    pane = app.screen.query_one(LogPane)
    wrap = pane.wrap
    return lambda: pane.wrap != wrap


async def press_and_time(
    app: MeasuredFleetApp, label: str, key: str, sampler: LoopSampler | None
) -> float:
    app.effect, app.effect_frame = effect_of(app, label), None
    app.frame_event.clear()
    if sampler:
        sampler.begin()
    start = time.perf_counter()
    event = events.Key(key, None if len(key) > 1 else key)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)
    deadline = start + FRAME_TIMEOUT
    while app.effect_frame is None and time.perf_counter() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(app.frame_event.wait(), 0.05)
        app.frame_event.clear()
    ms = FRAME_TIMEOUT * 1000 if app.effect_frame is None else (app.effect_frame - start) * 1000
    app.pressed.append((start, start + ms / 1000))
    if sampler:
        sampler.end(label, ms)
    app.effect = None
    return ms


def spread(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values, default=None),
    }


async def drive(
    consoles: dict[str, Console], args: argparse.Namespace, flood_start: float
) -> dict[str, Any]:
    counts: dict[Color, int] = dict.fromkeys(COLORS, 0)
    for console in consoles.values():  # every service's, into one count per colour
        counting(console, counts)
    app = MeasuredFleetApp(consoles)
    latencies: dict[str, list[float]] = {}
    every: list[float] = []
    flood = CpuWindow()
    sampler = LoopSampler(threading.get_ident(), args.stacks) if args.stacks else None
    async with app.run_test(size=SIZE):
        overview = app.overview
        assert overview is not None
        deadline = time.monotonic() + 30
        while any(r.status is None for r in overview.readings.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("the overview did not read every service within 30 s")
            await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, flood_start - time.time()))
        rss_start = rss_mb()
        interval = args.seconds / args.presses
        with flood.measure(), Collections() as collections, sampler or contextlib.nullcontext():
            began = time.monotonic()
            for index in range(args.presses):
                await asyncio.sleep(max(0.0, began + index * interval - time.monotonic()))
                label, key = KEY_CYCLE[index % len(KEY_CYCLE)]
                every.append(await press_and_time(app, label, key, sampler))
                latencies.setdefault(label, []).append(every[-1])
            await asyncio.sleep(max(0.0, began + args.seconds - time.monotonic()))
        rss_end = rss_mb()
        frames, terminal_bytes = app.frames, app.terminal_bytes
        rows = len(overview.rows)
    by_kind = {
        kind: [v for label in labels for v in latencies.get(label, [])]
        for kind, labels in KINDS.items()
    }
    overview_keys = [v for kind in OVERVIEW_KEYS for v in by_kind[kind]]
    return {
        "presses": len(every),
        "rows": rows,
        "latency_ms": {
            **spread(every),
            "overview_keys": spread(overview_keys),
            "by_kind": {kind: spread(values) for kind, values in by_kind.items()},
            "by_key": {label: spread(values) for label, values in latencies.items()},
            "samples": every,
            "sample_keys": [KEY_CYCLE[i % len(KEY_CYCLE)][0] for i in range(len(every))],
        },
        "stacks": sampler.report() if sampler else None,
        "gc": collections.figures(app.pressed),
        "lines_received": counts,
        "lines_received_per_s": sum(counts.values()) / max(flood.wall, 1e-9),
        "frames": frames,
        "terminal_mb": terminal_bytes / 1e6,
        "rss_mb": {"flood_start": rss_start, "flood_end": rss_end},
        "cpu_percent": {"flood": flood.percent},
        "loop_thread_cpu_percent": {"flood": flood.loop_percent},
        "machine_busy_percent": {"flood": flood.machine_busy_percent},
        "dockerd_cpu_percent": {"flood": flood.dockerd_percent},
        "wall_seconds": {"flood": flood.wall},
    }


def _spread_text(by: dict[str, Any]) -> str:
    return " / ".join(fmt(by[q]) for q in ("p50", "p95", "p99", "max")) + " ms"


def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    latency = figures["latency_ms"]
    own = latency["overview_keys"]
    rows = [
        ["every key p50 / p95 / p99 / max", _spread_text(latency), "", ""],
        ["overview keys (move, sort, filter)", _spread_text(own), "p99 < 50 ms",
         verdict(own["p99"] is not None and own["p99"] < TARGET_P99_MS)],
    ]  # fmt: skip
    for kind, by in latency["by_kind"].items():
        rows.append([f"  {kind} (n={by['n']})", _spread_text(by), "", ""])
    for label, by in latency["by_key"].items():
        rows.append([f"    key {label} (n={by['n']})", _spread_text(by), "", ""])
    return "\n".join(
        [
            f"{figures['rows']} services on the overview; {args.presses} presses over "
            f"{args.seconds:g} s of 2 × {args.rate:,} lines/s",
            table(["figure", "p50 / p95 / p99 / max", "target", ""], rows),
            f"lines received {fmt(figures['lines_received_per_s'], 0)}/s "
            f"{figures['lines_received']}; {figures['frames']:,} frames; RSS "
            f"{fmt(figures['rss_mb']['flood_start'])} → {fmt(figures['rss_mb']['flood_end'])} MB; "
            f"CPU {fmt(figures['cpu_percent']['flood'])} % (event loop "
            f"{fmt(figures['loop_thread_cpu_percent']['flood'])} %), machine busy "
            f"{fmt(figures['machine_busy_percent']['flood'])} % of {os.cpu_count()} cores, "
            f"dockerd {fmt(figures['dockerd_cpu_percent']['flood'])} % of a core",
            collections_text(figures["gc"]),
            *([figures["stacks"]] if figures["stacks"] else []),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tui_fleet", description=__doc__)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=90.0, help="flood duration")
    parser.add_argument("--rate", type=int, default=5_000, help="lines/s per flood container")
    parser.add_argument("--presses", type=int, default=360, help="keys pressed during the flood")
    parser.add_argument(
        "--stacks", type=float, default=0.0, metavar="MS",
        help="sample the event loop while a key is pending; print where presses ≥ MS went",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if min(args.services, args.seconds, args.rate, args.presses) <= 0:
        parser.error("--services, --seconds, --rate and --presses must be positive")

    names: dict[Color, str] = {color: f"bgbench-fleet-{color}-{os.getpid()}" for color in COLORS}
    consoles: dict[str, Console] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tui-fleet-") as root:
        try:
            fleet = load_fleet(str(write_fleet(Path(root), args.services)))
            assert not fleet.skipped, fleet.skipped
            for index, (name, config) in enumerate(fleet.services.items()):
                seed(config, index)
                consoles[name] = open_console(on_floods(config, names))
            flood_start = time.time() + 8.0
            start_floods(names, args, flood_start)
            print(f"{args.services} services; flooding {args.seconds:g} s …", flush=True)
            figures = asyncio.run(drive(consoles, args, flood_start))
        finally:
            for console in consoles.values():
                console.close()
            remove_floods(names)
    print(report(figures, args))
    settings = {
        "services": args.services,
        "seconds": args.seconds,
        "rate_per_container": args.rate,
        "presses": args.presses,
        "key_cycle": " ".join(label for label, _ in KEY_CYCLE),
        "flood_containers": names,
        "size": list(SIZE),
    }
    met = {"overview_p99": figures["latency_ms"]["overview_keys"]["p99"] < TARGET_P99_MS}
    path = write_results(
        "tui_fleet",
        {"settings": settings, "targets": {"overview_p99_ms": TARGET_P99_MS}, "met": met} | figures,
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
