"""What each colour costs the host: CPU, memory, block I/O and network, and its database's size.

The Docker Engine's stats stream gives cumulative counters once a second (a `UsageSample` each,
parsed in console/drivers/docker/stats.py); `UsageWindow` turns consecutive samples into rates.
`GrowthWindow` does the same for the database size the agent reads with `pg_database_size`.
The agent publishes one `ResourceFigures` per colour in its status; `resources_text` is the line
the panels and `status` print.

Pure: callers pass every reading and the time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Re-exported: the disk gate and the agent's alerts spell "full in …" with it too.
from console.core.durations import duration_text

# The window a rate is measured over: long enough to smooth a 1 s stats frame's jitter, short
# enough to follow a re-index that speeds up or slows down.
USAGE_WINDOW_SECONDS = 10.0
# A database grows in bursts (one transaction per 1000 blocks): its rate needs a longer window.
GROWTH_WINDOW_SECONDS = 300.0
CPU_HISTORY_SECONDS = 30.0
CPU_HISTORY_POINTS = 40  # 20 minutes


@dataclass(frozen=True, slots=True)
class UsageSample:
    """One stats frame of one container: CPU as a share of the whole host, counters cumulative."""

    at: float
    cpu_percent: float | None  # 0..100 of the host (all cores); `docker stats` shows × cores
    memory_bytes: int | None  # usage without the page cache, as `docker stats` counts it
    memory_limit_bytes: int | None  # the cgroup's limit (the host's memory when unlimited)
    block_read_bytes: int
    block_write_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int


@dataclass(frozen=True, slots=True)
class ResourceFigures:
    """One colour's resources as the agent last measured them; None = not measured."""

    cpu_percent: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    block_read_bps: float | None = None
    block_write_bps: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None
    db_size_bytes: int | None = None
    db_growth_bps: float | None = None
    disk_free_bytes: int | None = None  # free on disk_path, or disk_budget_bytes − db size
    disk_full_in_seconds: float | None = None  # at the growth rate; None = not growing
    fills_before_caught_up: bool | None = None  # None = no catch-up to compare with
    warnings: tuple[str, ...] = ()  # contention and disk warnings, one sentence each
    # CPU % of the host, one point every CPU_HISTORY_SECONDS, oldest first: the panel's sparkline
    # (published with the status, so every console draws the same one from its first poll).
    cpu_history: tuple[float, ...] = ()

    @property
    def measured(self) -> bool:
        return self.cpu_percent is not None or self.db_size_bytes is not None


def _rate(newer: int, older: int, seconds: float) -> float | None:
    if seconds <= 0 or newer < older:  # a counter that went back: the container restarted
        return None
    return (newer - older) / seconds


class UsageWindow:
    """The stats frames of one container over the last `window_seconds`: rates between the
    oldest and newest frame, the rest from the newest."""

    def __init__(self, window_seconds: float = USAGE_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._samples: deque[UsageSample] = deque()

    def add(self, sample: UsageSample) -> None:
        if self._samples and sample.at <= self._samples[-1].at:
            return
        if self._samples and sample.block_read_bytes < self._samples[-1].block_read_bytes:
            self._samples.clear()  # counters restarted with a new container process
        self._samples.append(sample)
        while self._samples and sample.at - self._samples[0].at > self.window_seconds:
            self._samples.popleft()

    def clear(self) -> None:
        self._samples.clear()

    @property
    def newest(self) -> UsageSample | None:
        return self._samples[-1] if self._samples else None

    def figures(self) -> ResourceFigures | None:
        if not self._samples:
            return None
        old, new = self._samples[0], self._samples[-1]
        seconds = new.at - old.at
        if seconds <= 0:
            rates: tuple[float | None, ...] = (None, None, None, None)
        else:
            rates = (
                _rate(new.block_read_bytes, old.block_read_bytes, seconds),
                _rate(new.block_write_bytes, old.block_write_bytes, seconds),
                _rate(new.net_rx_bytes, old.net_rx_bytes, seconds),
                _rate(new.net_tx_bytes, old.net_tx_bytes, seconds),
            )
        # CPU: the mean over the window's frames, each already a rate over its own second.
        cpus = [s.cpu_percent for s in self._samples if s.cpu_percent is not None]
        return ResourceFigures(
            cpu_percent=sum(cpus) / len(cpus) if cpus else None,
            memory_bytes=new.memory_bytes,
            memory_limit_bytes=new.memory_limit_bytes,
            block_read_bps=rates[0],
            block_write_bps=rates[1],
            net_rx_bps=rates[2],
            net_tx_bps=rates[3],
        )


class GrowthWindow:
    """A database's size readings; growth is the least-squares slope over the window, so one
    batch committed just before or after a reading does not swing it."""

    def __init__(self, window_seconds: float = GROWTH_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._points: deque[tuple[float, int]] = deque()

    def add(self, at: float, size_bytes: int) -> None:
        if self._points and at <= self._points[-1][0]:
            return
        self._points.append((at, size_bytes))
        while self._points and at - self._points[0][0] > self.window_seconds:
            self._points.popleft()

    def clear(self) -> None:
        self._points.clear()

    @property
    def size(self) -> int | None:
        return self._points[-1][1] if self._points else None

    def growth_bps(self) -> float | None:
        """Bytes per second; None until two readings at least a few seconds apart."""
        if len(self._points) < 2 or self._points[-1][0] - self._points[0][0] < 2.0:
            return None
        n = len(self._points)
        mean_t = sum(t for t, _ in self._points) / n
        mean_s = sum(s for _, s in self._points) / n
        var = sum((t - mean_t) ** 2 for t, _ in self._points)
        if var <= 0:
            return None
        cov = sum((t - mean_t) * (s - mean_s) for t, s in self._points)
        return cov / var


def size_text(value: float | None) -> str:
    """Bytes in binary units, e.g. '1.2 GiB'; '—' when unknown."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover — the loop always returns


def short_size(value: float | None) -> str:
    """Bytes in binary units, compact for one-line figures: '612M', '1.4G', '38G', '512B'."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(size) < 1024 or unit == "T":
            break
        size /= 1024
    if unit == "B":
        return f"{size:.0f}B"
    return f"{size:.1f}{unit}" if abs(size) < 10 else f"{size:.0f}{unit}"


def rate_text(value: float | None) -> str:
    return "—" if value is None else f"{short_size(value)}/s"


def resources_text(figures: ResourceFigures) -> str:
    """One line: 'cpu 42% · mem 310M/2.0G · rd 1.2M/s wr 3.0M/s · net ↓12K/s ↑3.0K/s'.
    Sizes are binary (K = KiB); CPU is a share of the whole host."""
    parts: list[str] = []
    if figures.cpu_percent is not None:
        parts.append(f"cpu {figures.cpu_percent:.0f}%")
    if figures.memory_bytes is not None:
        limit = f"/{short_size(figures.memory_limit_bytes)}" if figures.memory_limit_bytes else ""
        parts.append(f"mem {short_size(figures.memory_bytes)}{limit}")
    if figures.block_read_bps is not None or figures.block_write_bps is not None:
        read, write = rate_text(figures.block_read_bps), rate_text(figures.block_write_bps)
        parts.append(f"rd {read} wr {write}")
    if figures.net_rx_bps is not None or figures.net_tx_bps is not None:
        parts.append(f"net ↓{rate_text(figures.net_rx_bps)} ↑{rate_text(figures.net_tx_bps)}")
    return " · ".join(parts) or "resources not measured yet"


def _growth(figures: ResourceFigures) -> str:
    if figures.db_growth_bps is None:
        return ""
    sign = "+" if figures.db_growth_bps >= 0 else "−"
    return f" {sign}{rate_text(abs(figures.db_growth_bps))}"


def disk_text(figures: ResourceFigures) -> str | None:
    """'db 3.1G +2.0M/s · disk 9.5G free, full in 1.3h — fills before caught up'."""
    if figures.db_size_bytes is None and figures.disk_free_bytes is None:
        return None
    parts = [f"db {short_size(figures.db_size_bytes)}{_growth(figures)}"]
    if figures.disk_free_bytes is not None:
        free = f"disk {short_size(max(0, figures.disk_free_bytes))} free"
        if figures.disk_full_in_seconds is not None:
            free += f", full in {duration_text(figures.disk_full_in_seconds)}"
        parts.append(free)
    text = " · ".join(parts)
    if figures.fills_before_caught_up:
        text += " — fills before caught up"
    return text


def compact_text(figures: ResourceFigures) -> str:
    """CPU and disk in one short line, for an 80×24 terminal: 'cpu 71% · db 38G +2.0M/s · full
    in 17m'."""
    parts: list[str] = []
    if figures.cpu_percent is not None:
        parts.append(f"cpu {figures.cpu_percent:.0f}%")
    if figures.db_size_bytes is not None:
        parts.append(f"db {short_size(figures.db_size_bytes)}{_growth(figures)}")
    if figures.disk_full_in_seconds is not None:
        parts.append(f"full in {duration_text(figures.disk_full_in_seconds)}")
    elif figures.disk_free_bytes is not None:
        parts.append(f"{short_size(max(0, figures.disk_free_bytes))} free")
    return " · ".join(parts) or "resources not measured yet"


def resource_figures(data: object) -> ResourceFigures | None:
    """A stored status's `resources` (a dict from `asdict`) back into figures; None if absent.
    Keys from a newer writer are ignored."""
    if not isinstance(data, dict):
        return None
    known = set(ResourceFigures.__dataclass_fields__)
    values = {key: value for key, value in data.items() if key in known}
    values["warnings"] = tuple(str(w) for w in values.get("warnings") or ())
    values["cpu_history"] = tuple(float(v) for v in values.get("cpu_history") or ())
    return ResourceFigures(**values)
