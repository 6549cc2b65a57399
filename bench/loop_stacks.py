"""Where the event loop's time goes while a key is pending (bench/tui_fleet.py `--stacks`), and
the collector's full runs that landed inside a press.

A thread samples the event-loop thread's stack every millisecond between a key's press and its
frame; the samples of presses slower than a threshold are summed by function, inclusive (a
function counts once per sample it is anywhere on the stack), so the report reads "of the slow
presses' time, this share was under that call". Sampling takes the interpreter lock, so it
slows what it watches a little: figures with `--stacks` are for finding causes, not for tables.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.001


def _where(code_file: str, name: str) -> str:
    path = Path(code_file)
    parts = path.parts
    for anchor in ("textual", "rich", "console", "bench", "asyncio"):
        if anchor in parts:
            return f"{'/'.join(parts[parts.index(anchor) :])}:{name}"
    return f"{path.name}:{name}"


class LoopSampler:
    def __init__(self, thread_id: int, slow_ms: float) -> None:
        self._thread_id = thread_id
        self._slow_ms = slow_ms
        self._pending = threading.Event()
        self._stop = threading.Event()
        self._samples: list[tuple[str, ...]] = []
        self._inclusive: Counter[str] = Counter()
        self._leaves: Counter[str] = Counter()
        self._by_label: dict[str, Counter[str]] = {}
        self._label_samples: Counter[str] = Counter()
        self.slow_presses: list[tuple[str, float]] = []
        self.samples = 0
        self._thread = threading.Thread(target=self._run, name="loop sampler", daemon=True)

    def __enter__(self) -> LoopSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._pending.set()
        self._thread.join(5)

    def begin(self) -> None:
        self._samples = []
        self._pending.set()

    def end(self, label: str, ms: float) -> None:
        self._pending.clear()
        if ms < self._slow_ms:
            return
        self.slow_presses.append((label, ms))
        by_label = self._by_label.setdefault(label, Counter())
        for stack in self._samples:
            self.samples += 1
            self._label_samples[label] += 1
            self._leaves[stack[0]] += 1
            self._inclusive.update(set(stack))
            by_label.update(set(stack))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._pending.wait()
            frame = sys._current_frames().get(self._thread_id)
            stack: list[str] = []
            while frame is not None:
                stack.append(_where(frame.f_code.co_filename, frame.f_code.co_name))
                frame = frame.f_back
            if stack:
                self._samples.append(tuple(stack))
            time.sleep(SAMPLE_SECONDS)

    def report(self, top: int = 40) -> str:
        if not self.samples:
            return f"no press slower than {self._slow_ms:g} ms"
        presses = ", ".join(f"{label} {ms:.0f}" for label, ms in self.slow_presses)
        lines = [f"{len(self.slow_presses)} presses ≥ {self._slow_ms:g} ms: {presses}"]
        lines.append(f"inclusive share of {self.samples} samples (1 ms apart):")
        for where, count in self._inclusive.most_common(top):
            lines.append(f"  {100 * count / self.samples:5.1f} %  {where}")
        for label, counter in self._by_label.items():
            total = self._label_samples[label]
            if not total:
                continue
            lines.append(f"{label}: {total} samples")
            shown = [(w, c) for w, c in counter.most_common() if c < 0.97 * total][:top]
            lines.extend(f"  {100 * c / total:5.1f} %  {w}" for w, c in shown)
        lines.append("where the loop was (innermost frame):")
        for where, count in self._leaves.most_common(top // 2):
            lines.append(f"  {100 * count / self.samples:5.1f} %  {where}")
        return "\n".join(lines)


class Collections:
    """The collector's runs, timed (generation, start, ms), to tell a slow press that held one."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, float, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._started) * 1000
            self.runs.append((info["generation"], self._started, ms))

    def __enter__(self) -> Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)

    def figures(self, presses: list[tuple[float, float]]) -> dict[str, Any]:
        full = [ms for generation, _, ms in self.runs if generation == 2]
        inside = [
            ms
            for generation, at, ms in self.runs
            if generation == 2 and any(start <= at <= end for start, end in presses)
        ]
        return {
            "collections": len(self.runs),
            "full": len(full),
            "full_ms_max": max(full, default=0.0),
            "full_ms_total": sum(full),
            "full_during_presses": len(inside),
            "full_during_presses_ms_max": max(inside, default=0.0),
        }


def collections_text(figures: dict[str, Any]) -> str:
    return (
        "full collections {full} ({full_ms_total:.0f} ms, longest {full_ms_max:.0f} ms); "
        "{full_during_presses} inside a press (longest {full_during_presses_ms_max:.0f} ms)"
    ).format(**figures)
