"""Traffic truth per colour: the proxy's counters, turned into rates and percentiles over a window.

The proxy only counts (requests, status classes, upstream time, one latency bucket per request,
gauges of open requests and websockets); it never computes a rate, so a reading is cheap and a
missed one loses nothing. The agent keeps the readings of the last `window_seconds` and derives
each colour's figures from the difference between the oldest and the newest reading in it.

A counter that goes down means the proxy restarted (its shared memory is gone): the readings before
it are dropped, never subtracted into a negative rate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from console.core.colors import COLORS, Color

# Upper bounds (ms) of the latency buckets the proxy counts into; one more bucket holds the rest.
# Fine enough below 100 ms for a p50, wide enough above for a p99 of a slow release.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1000, 1500, 2000, 3000, 5000, 10000,
)  # fmt: skip
DEFAULT_WINDOW_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ColourCounters:
    """Monotonic counters and gauges of one colour, as the proxy holds them."""

    requests: int = 0
    status_2xx: int = 0
    status_3xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    upstream_us: int = 0  # sum of upstream response times of the timed requests
    timed: int = 0  # requests with an upstream time (101 upgrades are kept out)
    buckets: tuple[int, ...] = ()  # per LATENCY_BOUNDS_MS, plus one for the rest; () = none
    open_requests: int | None = None  # gauge; None: the proxy cannot say
    websockets: int | None = None  # gauge; None: the proxy cannot say
    # HAProxy's own latency figures (it keeps no distribution): the mean over its last 1024
    # requests and the longest since it started. None where the proxy does not give them.
    recent_mean_ms: float | None = None
    max_ms: float | None = None


@dataclass(frozen=True, slots=True)
class TrafficSnapshot:
    """One reading of the proxy's counters, for every colour it has seen."""

    at: float
    colours: Mapping[Color, ColourCounters]
    has_percentiles: bool = True  # HAProxy's stats have no latency distribution
    note: str = ""  # what the figures cannot say, shown beside them ("p99 not available …")


@dataclass(frozen=True, slots=True)
class TrafficFigures:
    """What users of one colour got over the window; None where the proxy cannot say."""

    rps: float | None = None
    error_rate: float | None = None  # 5xx share of the window's requests, 0..1
    client_error_rate: float | None = None  # 4xx share
    p50_ms: float | None = None
    p99_ms: float | None = None
    open_connections: int | None = None
    websockets: int | None = None
    requests_total: int | None = None
    window_requests: int = 0  # requests counted in the window (analysis: min_requests)
    window_seconds: float = 0.0
    mean_ms: float | None = None  # the window's mean upstream time (HAProxy: its recent mean)
    max_ms: float | None = None  # HAProxy: the longest response since it started
    note: str = ""  # what the proxy cannot say, shown beside the figures


def counters_from_keys(values: Mapping[str, float]) -> dict[Color, ColourCounters]:
    """The nginx dict's flat keys ("blue:req", "green:5xx", "blue:le100", …) per colour."""
    out: dict[Color, ColourCounters] = {}
    for color in COLORS:

        def get(name: str, color: Color = color) -> int:
            return max(0, int(values.get(f"{color}:{name}", 0)))

        if not any(key.startswith(f"{color}:") for key in values):
            continue
        buckets = (*(get(f"le{_bound_key(b)}") for b in LATENCY_BOUNDS_MS), get("le_inf"))
        out[color] = ColourCounters(
            requests=get("req"),
            status_2xx=get("2xx"),
            status_3xx=get("3xx"),
            status_4xx=get("4xx"),
            status_5xx=get("5xx"),
            upstream_us=get("rt_us"),
            timed=get("timed"),
            buckets=buckets,
            open_requests=get("open"),
            websockets=get("ws"),
        )
    return out


def _bound_key(bound: float) -> str:
    return f"{bound:g}"


def percentile(buckets: tuple[int, ...], q: float) -> float | None:
    """The q-quantile (0..1) of bucketed latencies in ms, interpolated inside its bucket; the
    open last bucket answers its lower bound (the figure is "at least")."""
    total = sum(buckets)
    if total <= 0 or len(buckets) != len(LATENCY_BOUNDS_MS) + 1:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            if index == len(LATENCY_BOUNDS_MS):
                return float(LATENCY_BOUNDS_MS[-1])
            low = 0.0 if index == 0 else float(LATENCY_BOUNDS_MS[index - 1])
            high = float(LATENCY_BOUNDS_MS[index])
            return low + (high - low) * (rank - seen) / count
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])


def figures_between(
    older: ColourCounters | None,
    newer: ColourCounters,
    seconds: float,
    has_percentiles: bool = True,
    note: str = "",
) -> TrafficFigures:
    """A colour's figures from two readings `seconds` apart (older None: only the gauges)."""
    if older is None or seconds <= 0:
        return TrafficFigures(
            open_connections=newer.open_requests,
            websockets=newer.websockets,
            requests_total=newer.requests,
            mean_ms=newer.recent_mean_ms,
            max_ms=newer.max_ms,
            note=note,
        )
    requests = newer.requests - older.requests
    answered = sum(
        getattr(newer, name) - getattr(older, name)
        for name in ("status_2xx", "status_3xx", "status_4xx", "status_5xx")
    )
    p50 = p99 = None
    if has_percentiles and newer.buckets and len(older.buckets) == len(newer.buckets):
        delta = tuple(n - o for n, o in zip(newer.buckets, older.buckets, strict=True))
        p50, p99 = percentile(delta, 0.50), percentile(delta, 0.99)
    timed = newer.timed - older.timed
    mean_ms = (newer.upstream_us - older.upstream_us) / 1000 / timed if timed > 0 else None
    return TrafficFigures(
        rps=requests / seconds,
        error_rate=(newer.status_5xx - older.status_5xx) / answered if answered > 0 else None,
        client_error_rate=(newer.status_4xx - older.status_4xx) / answered if answered else None,
        p50_ms=p50,
        p99_ms=p99,
        open_connections=newer.open_requests,
        websockets=newer.websockets,
        requests_total=newer.requests,
        window_requests=requests,
        window_seconds=seconds,
        mean_ms=mean_ms if mean_ms is not None else newer.recent_mean_ms,
        max_ms=newer.max_ms,
        note=note,
    )


def _went_down(older: ColourCounters, newer: ColourCounters) -> bool:
    return newer.requests < older.requests or newer.timed < older.timed


@dataclass
class TrafficWindow:
    """The readings of the last `seconds`; figures from its oldest and newest."""

    seconds: float = DEFAULT_WINDOW_SECONDS
    _readings: deque[TrafficSnapshot] = field(default_factory=deque)

    def add(self, snapshot: TrafficSnapshot) -> None:
        if self._readings and snapshot.at <= self._readings[-1].at:
            return  # the same reading again (the sampler had nothing new)
        last = self._readings[-1] if self._readings else None
        if last is not None and any(
            color in last.colours and _went_down(last.colours[color], counters)
            for color, counters in snapshot.colours.items()
        ):
            self._readings.clear()  # the proxy restarted: its counters began again
        self._readings.append(snapshot)
        # Keep one reading at or before the window's start, so the window is covered whole.
        while len(self._readings) > 2 and self._readings[1].at <= snapshot.at - self.seconds:
            self._readings.popleft()

    def figures(self, color: Color) -> TrafficFigures | None:
        """None: no reading of this colour yet."""
        if not self._readings:
            return None
        newest = self._readings[-1]
        counters = newest.colours.get(color)
        if counters is None:
            # A proxy that counts nothing (reload mode without Lua) still says why.
            return TrafficFigures(note=newest.note) if newest.note else None
        oldest = self._readings[0]
        zero = ColourCounters(buckets=(0,) * len(counters.buckets))  # first seen in the window
        older = oldest.colours.get(color, zero) if oldest is not newest else None
        return figures_between(
            older, counters, newest.at - oldest.at, newest.has_percentiles, newest.note
        )


def traffic_text(figures: TrafficFigures | None) -> str:
    """One line for `status` and the TUI panel: req/s, 5xx and 4xx shares, p50/p99, gauges."""
    if figures is None:
        return "traffic —"
    if figures.note and figures.rps is None and figures.requests_total is None:
        return f"traffic — {figures.note}"
    parts = [f"{figures.rps:.1f} req/s" if figures.rps is not None else "— req/s"]
    if figures.error_rate is not None:
        parts.append(f"5xx {figures.error_rate * 100:.1f}%")
    if figures.client_error_rate is not None:
        parts.append(f"4xx {figures.client_error_rate * 100:.1f}%")
    if figures.p50_ms is not None and figures.p99_ms is not None:
        parts.append(f"p50/p99 {figures.p50_ms:.0f}/{figures.p99_ms:.0f} ms")
    elif figures.mean_ms is not None:
        peak = f", max {figures.max_ms:.0f}" if figures.max_ms is not None else ""
        parts.append(f"mean {figures.mean_ms:.0f}{peak} ms")
    if figures.open_connections is not None:
        parts.append(f"{figures.open_connections} open")
    if figures.websockets:
        parts.append(f"{figures.websockets} ws")
    if figures.note:
        parts.append(figures.note)
    return "traffic " + " · ".join(parts)
