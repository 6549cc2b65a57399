"""The TUI under a log flood: key press → screen update, memory growth and CPU; then idle CPU.

A real sandbox (ports 29400+) gives the app a real store and agent. Two flood containers from
`bluegreen-base:bookworm` print explorer-like lines with ANSI colours at `--rate` lines/s each
(paced every 10 ms) for `--seconds`, then exit; the app's config is the sandbox's with
`slots.blue/green.container` pointed at them, so the real `Console.follow_logs` (Docker API,
sanitising, redaction) feeds the real `BluegreenApp`, run headless in this process at 160×50.

The app follows one colour at a time, as it does for an operator; the pressed keys cycle
`w p p w l`, so `l` flips the followed colour every five presses and both floods are followed
for about half the run each (both containers flood the whole time).

Latency, per key: from posting the `Key` event to the app (what the terminal driver's input thread
does) to the end of the first frame composed after the key's action returned. Headless Textual
composes each frame but skips turning it into terminal bytes; this benchmark does that step too
(`CompositorUpdate.render_segments`), so a frame costs what it would on a terminal, minus the write.

Memory is VmRSS of this process (the app, its threads and this harness) when the flood starts vs
when it ends; CPU is utime+stime from /proc/self/stat over wall time, in % of one core, during the
flood and then while idle-watching (flood containers exited, the app polling the store each second).

    python -m bench.tui_under_load [--seconds 60] [--rate 5000] [--idle-seconds 30] [--presses 250]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual import events
from textual._compositor import CompositorUpdate
from textual.screen import Screen

from bench.common import fmt, percentile, table, write_results
from console.core.config.load import load_config
from console.core.config.schema import SlotConfig
from console.core.model import COLORS, Color
from console.core.service import Console
from console.tui import app as tui_app
from console.tui.app import BluegreenApp
from console.tui.widgets.log_pane import LogPane
from console.wiring import open_console

PORT_BASE = 29400
IMAGE = "bluegreen-base:bookworm"
KEY_CYCLE = ("w", "p", "p", "w", "l")
FRAME_TIMEOUT = 5.0
TARGET_P99_MS = 100.0
TARGET_GROWTH_MB = 50.0
TARGET_IDLE_CPU = 3.0

# Runs inside the flood containers: explorer-like lines with ANSI colours, paced every 10 ms,
# from wall-clock `start` for `seconds` (host and containers share the clock), then exits.
FLOOD_SCRIPT = r"""
import random, sys, time
rate, start, seconds, color = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
out = sys.stdout
while time.time() < start:
    time.sleep(0.005)
sent, height = 0, 4_000_000 if color == "blue" else 5_000_000
while True:
    now = time.time()
    if now >= start + seconds:
        break
    due = int((now - start) * rate)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)
    lines = []
    for n in range(sent, due):
        height += 1
        if n % 100 == 99:
            root, parent = random.getrandbits(256), random.getrandbits(256)
            lines.append(f"\x1b[2m{stamp}\x1b[0m \x1b[33m WARN\x1b[0m \x1b[2mexplorer::sync"
                         f"\x1b[0m: slow batch ending at {height}: root 0x{root:064x} "
                         f"parent 0x{parent:064x} took {random.randint(200, 900)} ms")
        else:
            lines.append(f"\x1b[2m{stamp}\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mexplorer::indexer"
                         f"\x1b[0m: Processing block height {height} with "
                         f"{random.randint(0, 400)} transactions")
    if lines:
        out.write("\n".join(lines) + "\n")
        out.flush()
    sent = due
    time.sleep(0.01)
"""


# ── process figures ─────────────────────────────────────────────────────────────────────────────


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS missing from /proc/self/status")


def cpu_seconds() -> float:
    """utime + stime of this process (all threads)."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_thread_seconds() -> float:
    """utime + stime of the main thread alone: the event loop that handles keys and draws."""
    native = threading.main_thread().native_id
    fields = Path(f"/proc/self/task/{native}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def dockerd_seconds() -> float:
    """CPU seconds of dockerd, which turns every flood line into JSON on disk and on the socket."""
    with contextlib.suppress(OSError, ValueError, subprocess.SubprocessError):
        pid = subprocess.run(
            ["pgrep", "-x", "dockerd"], capture_output=True, text=True, check=False
        ).stdout.split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclasses.dataclass
class CpuWindow:
    """This process's CPU over a window, with the machine's and dockerd's for context."""

    wall: float = 0.0
    cpu: float = 0.0
    machine_busy_percent: float = 0.0  # of all cores
    dockerd_percent: float = 0.0  # of one core
    loop_percent: float = 0.0  # the event-loop thread's share, of one core

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu, (busy, total), dockerd = (
            time.monotonic(),
            cpu_seconds(),
            machine_cpu(),
            dockerd_seconds(),
        )
        loop = loop_thread_seconds()
        try:
            yield
        finally:
            self.wall, self.cpu = time.monotonic() - wall, cpu_seconds() - cpu
            busy_now, total_now = machine_cpu()
            self.machine_busy_percent = 100 * (busy_now - busy) / max(1, total_now - total)
            self.dockerd_percent = 100 * (dockerd_seconds() - dockerd) / max(self.wall, 1e-9)
            self.loop_percent = 100 * (loop_thread_seconds() - loop) / max(self.wall, 1e-9)

    @property
    def percent(self) -> float:
        return 100 * self.cpu / self.wall if self.wall else 0.0


# ── the app, instrumented ───────────────────────────────────────────────────────────────────────


class MeasuredApp(BluegreenApp):
    """The real app; records when each view action returns and when each frame is composed."""

    # Textual resolves CSS_PATH next to the subclass's module: point it back at the app's.
    CSS_PATH = str(Path(tui_app.__file__).with_name("app.tcss"))

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.acted_at = 0.0
        self.frames: list[float] = []
        self.frame_event = asyncio.Event()
        self.terminal_bytes = 0

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if self.is_headless and isinstance(renderable, CompositorUpdate):
            # What a terminal frame costs beyond composing it: the escape sequences.
            self.terminal_bytes += len(renderable.render_segments(self.console))
        super()._display(screen, renderable)
        if renderable is not None:
            self.frames.append(time.perf_counter())
            self.frame_event.set()

    def _acted(self) -> None:
        self.acted_at = time.perf_counter()

    def action_toggle_wrap(self) -> None:
        super().action_toggle_wrap()
        self._acted()

    def action_toggle_pause(self) -> None:
        super().action_toggle_pause()
        self._acted()

    def action_toggle_log_color(self) -> None:
        super().action_toggle_log_color()
        self._acted()


async def press_and_time(app: MeasuredApp, key: str) -> float:
    """Milliseconds from the key event to the end of the first frame composed after its action."""
    before = app.acted_at
    app.frame_event.clear()
    start = time.perf_counter()
    event = events.Key(key, key)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)  # as the terminal driver's input thread does
    deadline = start + FRAME_TIMEOUT
    while time.perf_counter() < deadline:
        if app.acted_at != before:
            acted = app.acted_at
            frame = next((t for t in app.frames[-100:] if t >= acted), None)
            if frame is not None:
                return (frame - start) * 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(app.frame_event.wait(), 0.05)
        app.frame_event.clear()
    return FRAME_TIMEOUT * 1000  # counted as a (very) late frame, never dropped


def counting(console: Console, counts: dict[Color, int]) -> None:
    """Wrap the console's follow_logs so the lines the app really received are counted."""
    follow = console.follow_logs

    def follow_logs(color: Color, stop: threading.Event, tail: int = 200) -> Iterator[str]:
        for line in follow(color, stop, tail):
            counts[color] += 1
            yield line

    console.follow_logs = follow_logs  # type: ignore[method-assign]


def _label(app: MeasuredApp, pane: LogPane, key: str) -> str:
    """What pressing `key` is about to do, so the figures say which action is slow."""
    if key == "p":
        return "p (resume)" if app.paused else "p (pause)"
    if key == "w":
        return "w (wrap off)" if pane.wrap else "w (wrap on)"
    return f"l (to {'green' if pane.color == 'blue' else 'blue'})"


async def drive(console: Console, args: argparse.Namespace, flood_start: float) -> dict[str, Any]:
    counts: dict[Color, int] = {color: 0 for color in COLORS}
    counting(console, counts)
    app = MeasuredApp(console)
    latencies: dict[str, list[float]] = {}  # by what the key did: "p (pause)", "p (resume)" …
    every: list[float] = []
    rss_curve: list[tuple[float, float]] = []
    followed: dict[Color, float] = {color: 0.0 for color in COLORS}
    flood, idle = CpuWindow(), CpuWindow()
    async with app.run_test(size=(160, 50)):
        pane = app.main.query_one(LogPane)
        await asyncio.sleep(max(0.0, flood_start - time.time()))
        rss_start = rss_mb()
        interval = args.seconds / args.presses
        profiler = cProfile.Profile() if args.profile else None
        with flood.measure(), profiler or contextlib.nullcontext():
            began = last = time.monotonic()
            for index in range(args.presses):
                due = began + index * interval
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                key = KEY_CYCLE[index % len(KEY_CYCLE)]
                label = _label(app, pane, key)
                followed[pane.color] += time.monotonic() - last
                last = time.monotonic()
                if index % max(1, args.presses // 12) == 0:  # the RSS curve: growth or plateau?
                    rss_curve.append((round(time.monotonic() - began, 1), round(rss_mb(), 1)))
                every.append(await press_and_time(app, key))
                latencies.setdefault(label, []).append(every[-1])
            await asyncio.sleep(max(0.0, began + args.seconds - time.monotonic()))
            followed[pane.color] += time.monotonic() - last
        if profiler is not None:
            profiler.dump_stats(args.profile)  # the event-loop thread only, during the flood
        rss_end = rss_mb()
        lines_during_flood = dict(counts)
        await asyncio.sleep(3.0)  # the containers exit; the followers notice and back off
        with idle.measure():
            await asyncio.sleep(args.idle_seconds)
        rss_idle = rss_mb()
        frames, terminal_bytes = len(app.frames), app.terminal_bytes
    return {
        "presses": len(every),
        "latency_ms": {
            "p50": percentile(every, 50),
            "p99": percentile(every, 99),
            "max": max(every, default=None),
            "by_key": {
                key: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)}
                for key, v in sorted(latencies.items())
            },
            "samples": every,
        },
        "followed_seconds": followed,
        "lines_received": lines_during_flood,
        "lines_received_per_s": sum(lines_during_flood.values()) / flood.wall,
        "frames": frames,
        "terminal_mb": terminal_bytes / 1e6,
        "rss_mb": {"flood_start": rss_start, "flood_end": rss_end, "idle_end": rss_idle},
        "memory_growth_mb": rss_end - rss_start,
        "rss_curve_mb": rss_curve,
        "cpu_percent": {"flood": flood.percent, "idle": idle.percent},
        "machine_busy_percent": {
            "flood": flood.machine_busy_percent,
            "idle": idle.machine_busy_percent,
        },
        "dockerd_cpu_percent": {"flood": flood.dockerd_percent, "idle": idle.dockerd_percent},
        "loop_thread_cpu_percent": {"flood": flood.loop_percent, "idle": idle.loop_percent},
        "cpu_seconds": {"flood": flood.cpu, "idle": idle.cpu},
        "wall_seconds": {"flood": flood.wall, "idle": idle.wall},
    }


# ── containers and sandbox ──────────────────────────────────────────────────────────────────────


def start_floods(names: dict[Color, str], args: argparse.Namespace, start: float) -> None:
    for color, name in names.items():
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)
        subprocess.run(
            [
                "docker", "run", "-d", "--name", name, "--network", "none",
                "--log-opt", "max-size=50m", "--log-opt", "max-file=2",
                IMAGE, "python3", "-c", FLOOD_SCRIPT,
                str(args.rate), f"{start:.3f}", str(args.seconds), color,
            ],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip


def remove_floods(names: dict[Color, str]) -> None:
    for name in names.values():
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False, timeout=60)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    latency, cpu = figures["latency_ms"], figures["cpu_percent"]
    growth = figures["memory_growth_mb"]
    rows = [
        ["key → frame p50", f"{fmt(latency['p50'])} ms", "", ""],
        ["key → frame p99", f"{fmt(latency['p99'])} ms", "< 100 ms",
         verdict(latency["p99"] < TARGET_P99_MS)],
        ["key → frame max", f"{fmt(latency['max'])} ms", "", ""],
        ["memory growth", f"{fmt(growth)} MB", "< 50 MB", verdict(growth < TARGET_GROWTH_MB)],
        ["CPU, flood", f"{fmt(cpu['flood'])} %", "", ""],
        ["CPU, idle-watching", f"{fmt(cpu['idle'], 2)} %", "< 3 %",
         verdict(cpu["idle"] < TARGET_IDLE_CPU)],
    ]  # fmt: skip
    for label, by in latency["by_key"].items():
        rows.append(
            [f"  {label} (n={by['n']})", f"p50 {fmt(by['p50'])} / p99 {fmt(by['p99'])}", "", ""]
        )
    rss = figures["rss_mb"]
    return "\n".join(
        [
            f"{args.presses} presses over {args.seconds:g} s of 2 × {args.rate:,} lines/s; "
            f"idle {args.idle_seconds:g} s",
            table(["figure", "measured", "target", ""], rows),
            f"RSS {fmt(rss['flood_start'])} → {fmt(rss['flood_end'])} MB (idle end "
            f"{fmt(rss['idle_end'])} MB); lines received "
            f"{fmt(figures['lines_received_per_s'], 0)}/s {figures['lines_received']}; "
            f"{figures['frames']:,} frames",
            f"machine busy (all {os.cpu_count()} cores): flood "
            f"{fmt(figures['machine_busy_percent']['flood'])} %, idle "
            f"{fmt(figures['machine_busy_percent']['idle'])} %; dockerd flood "
            f"{fmt(figures['dockerd_cpu_percent']['flood'])} % of a core; of the app's CPU the "
            f"event-loop thread took {fmt(figures['loop_thread_cpu_percent']['flood'])} % (flood) "
            f"and {fmt(figures['loop_thread_cpu_percent']['idle'], 2)} % (idle)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tui_under_load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="flood duration")
    parser.add_argument("--rate", type=int, default=5_000, help="lines/s per container")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--presses", type=int, default=250, help="keys pressed during the flood")
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile of the event loop during the flood"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0 or args.presses <= 0 or args.idle_seconds <= 0:
        parser.error("--seconds, --rate, --presses and --idle-seconds must be positive")

    from tests.integration import sandbox_fixture

    sandbox_fixture.PORT_BASE = PORT_BASE
    print("bringing up the sandbox …", flush=True)
    sandbox = sandbox_fixture.bring_up()
    names: dict[Color, str] = {color: f"bgbench-flood-{color}-{os.getpid()}" for color in COLORS}
    console: Console | None = None
    try:
        config = load_config(str(sandbox.config))
        slots: dict[str, SlotConfig] = {
            color: dataclasses.replace(config.slot(color), container=names[color])
            for color in COLORS
        }
        console = open_console(dataclasses.replace(config, slots=slots))
        flood_start = time.time() + 8.0  # after the containers and the app are up
        start_floods(names, args, flood_start)
        print(f"flooding {args.seconds:g} s, then idle {args.idle_seconds:g} s …", flush=True)
        figures = asyncio.run(drive(console, args, flood_start))
    finally:
        if console is not None:
            console.close()
        remove_floods(names)
        sandbox_fixture.tear_down(sandbox.dir)
    print(report(figures, args))
    targets = {
        "p99_ms": TARGET_P99_MS,
        "memory_growth_mb": TARGET_GROWTH_MB,
        "idle_cpu_percent": TARGET_IDLE_CPU,
    }
    met = {
        "p99": figures["latency_ms"]["p99"] < TARGET_P99_MS,
        "memory_growth": figures["memory_growth_mb"] < TARGET_GROWTH_MB,
        "idle_cpu": figures["cpu_percent"]["idle"] < TARGET_IDLE_CPU,
    }
    settings = {
        "seconds": args.seconds,
        "rate_per_container": args.rate,
        "idle_seconds": args.idle_seconds,
        "presses": args.presses,
        "key_cycle": "".join(KEY_CYCLE),
        "flood_containers": names,
        "size": [160, 50],
    }
    path = write_results(
        "tui_under_load", {"settings": settings, "targets": targets, "met": met, **figures}
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
