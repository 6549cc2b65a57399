"""The agent's Prometheus exporter: what the agent last published, as Prometheus metrics.

A custom Collector (prometheus-client) reads the figures the agent's tick keeps in `Published`
(no second sampling: a scrape never calls Docker, a database or the proxy) and the counters the
store already holds (switches and rollbacks from the audit log, cutovers from the metrics table).
Every label value that came from outside (versions, condition names) is passed through the
installation's Redactor, so no secret can reach a scrape. Names and units: docs/METRICS.md.

One exporter serves every service the agent watches (console/agent/fleet.py): each service's
families get a `service` label and are merged by name, so a scrape holds one family per name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from console.agent.metrics_traffic import traffic_families
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import COLORS, Color, SlotState, SlotStatus, agreeing_with_live
from console.core.store.store import Store

AGENT_ACTOR_NAME = "agent"
# Seconds; a cutover is a few ms with a live switch, up to seconds with a reload.
CUTOVER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CUTOVER_WINDOW_SECONDS = 10 * 365 * 86400.0  # everything the store still holds


@dataclass
class Published:
    """What the agent's last tick published, shared with the scrape thread under a lock."""

    statuses: dict[Color, SlotStatus] = field(default_factory=dict)
    live: Color | None = None
    tick_seconds: float | None = None
    last_tick_ok_at: float | None = None
    ticks_failed: int = 0
    traffic: TrafficSnapshot | None = None  # the proxy's newest counters (metrics_traffic.py)
    version: int = 0  # bumped by each change: the exporter renders a service again only then
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tick_done(self, statuses: dict[Color, SlotStatus], live: Color | None, took: float) -> None:
        with self.lock:
            # `live` is read after the tick: the slots' states follow it (as `status` does).
            self.statuses = {c: agreeing_with_live(s, live) for c, s in statuses.items()}
            self.live = live
            self.tick_seconds = took
            self.last_tick_ok_at = time.time()
            self.version += 1

    def tick_failed(self, took: float) -> None:
        with self.lock:
            self.tick_seconds = took
            self.ticks_failed += 1
            self.version += 1

    def traffic_read(self, snapshot: TrafficSnapshot | None) -> None:
        if snapshot is not None:  # a failed read keeps the last counters (they only grow)
            with self.lock:
                self.traffic = snapshot
                self.version += 1

    def snapshot(self) -> Published:
        with self.lock:
            return Published(
                dict(self.statuses),
                self.live,
                self.tick_seconds,
                self.last_tick_ok_at,
                self.ticks_failed,
                self.traffic,
                self.version,
            )


def actor_kind(actor: str) -> str:
    """The label for who acted: the agent (policy, automatic rollback) or an operator. The
    operator's name stays out of the metric: one series per person is not a dashboard."""
    return "agent" if actor == AGENT_ACTOR_NAME else "operator"


@dataclass(frozen=True)
class ServiceMetrics:
    """One watched service, as the exporter reads it."""

    service: str
    published: Published
    store: Store
    redact: Callable[[str], str]


class AgentCollector(Collector):
    """Every watched service's families, merged by name, each series labelled with its service.
    `services` is asked at each scrape: services come and go while the agent runs."""

    def __init__(
        self,
        services: Callable[[], Iterable[ServiceMetrics]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.services = services
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        yield from merged(
            (each.service, family)
            for each in self.services()
            for family in ServiceCollector(each, self.clock).collect()
        )


def merged(families: Iterable[tuple[str, Metric]]) -> list[Metric]:
    """(service, family) pairs → one family per name, each series labelled with its service."""
    by_name: dict[str, Metric] = {}
    for service, family in families:
        into = by_name.get(family.name)
        if into is None:
            into = Metric(family.name, family.documentation, family.type, family.unit)
            by_name[family.name] = into
        into.samples += [
            sample._replace(labels={"service": service, **sample.labels})
            for sample in family.samples
        ]
    return list(by_name.values())


class ServiceCollector:
    """One service's families, without the `service` label (AgentCollector adds it)."""

    def __init__(self, source: ServiceMetrics, clock: Callable[[], float] = time.time) -> None:
        self.published = source.published
        self.store = source.store
        self.redact = source.redact
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        snap = self.published.snapshot()
        yield from self.steady(snap)
        yield from self.ages(snap, self.clock())

    def steady(self, snap: Published) -> Iterator[Metric]:
        """What changes only when the agent publishes (or the store records an operation): the
        exporter keeps it rendered between scrapes (metrics_page.py)."""
        yield from self._slots(snap)
        yield from traffic_families(
            snap.traffic, {color: status.traffic for color, status in snap.statuses.items()}
        )
        yield from resource_metrics(snap.statuses)
        yield from self._installation(snap)
        yield from self._operations()

    def ages(self, snap: Published, now: float) -> Iterator[Metric]:
        """What moves with the clock: computed at every scrape, never kept."""
        status_age = _colour_gauge(
            "status_age_seconds", "Seconds since the agent published this status."
        )
        reading = _colour_gauge(
            "part_reading_age_seconds",
            "Seconds since a part (Docker, height, head, checks) last answered.",
            ("part",),
        )
        for color in COLORS:
            status = snap.statuses.get(color)
            if status is None:
                continue
            if status.updated_at:
                status_age.add_metric([color], max(0.0, now - status.updated_at))
            for part in status.readings:
                if part.answered_at:
                    reading.add_metric([color, part.part], max(0.0, now - part.answered_at))
        yield status_age
        yield reading
        if snap.last_tick_ok_at is not None:
            yield GaugeMetricFamily(
                "bluegreen_agent_last_sample_age_seconds",
                "Seconds since the agent last completed a tick (sampled and published).",
                value=max(0.0, now - snap.last_tick_ok_at),
            )

    # ── per colour ──
    def _slots(self, snap: Published) -> Iterator[Metric]:
        gauge = _colour_gauge
        state = gauge("state", "1 for the colour's current state, 0 for the others.", ("state",))
        info = gauge("info", "The deployment a colour runs (value 1).", ("version", "image"))
        values: dict[str, tuple[GaugeMetricFamily, Callable[[SlotStatus], float | None]]] = {
            "height": (gauge("height", "Indexed height (blocks)."), lambda s: s.height),
            "head": (gauge("head", "The chain head the lag is measured to."), lambda s: s.head),
            "lag": (gauge("lag_blocks", "Head minus height."), lambda s: s.lag),
            "speed": (
                gauge("speed_blocks_per_second", "Indexing speed (moving rate)."),
                lambda s: s.speed,
            ),
            "closing": (
                gauge(
                    "closing_speed_blocks_per_second",
                    "Indexing speed minus the head's growth: how fast the lag shrinks.",
                ),
                _closing_speed,
            ),
            "eta": (
                gauge(
                    "eta_seconds",
                    "Time to catch up at the closing speed; absent at the head or if not closing.",
                ),
                lambda s: s.eta_seconds,
            ),
            "at_head": (
                gauge("at_head", "1 when caught up and following the head (within max_lag)."),
                lambda s: None if s.lag is None else float(s.at_head),
            ),
            "ready": (gauge("ready", "1 when every readiness condition holds."), _ready),
            "healthy": (
                gauge("healthy", "The container's HTTP health: 1 ok, 0 failing."),
                lambda s: None if s.healthy is None else float(s.healthy),
            ),
            "restarts": (
                gauge("container_restarts", "The engine's restart count for the container."),
                lambda s: s.restart_count if s.container_state is not None else None,
            ),
            "stamp": (
                gauge(
                    "status_timestamp_seconds",
                    "When the agent composed this status (Unix time): matches `status --json`'s "
                    "updated_at.",
                ),
                lambda s: s.updated_at or None,
            ),
        }
        condition = gauge("condition_met", "One readiness condition: 1 met, 0 not.", ("condition",))
        for color in COLORS:
            status = snap.statuses.get(color)
            if status is None:
                continue
            for each in SlotState:
                state.add_metric([color, each.value], 1.0 if status.state == each else 0.0)
            if status.version or status.image:
                info.add_metric(
                    [color, self.redact(status.version or ""), self.redact(status.image or "")], 1.0
                )
            for family, read in values.values():
                value = read(status)
                if value is not None:
                    family.add_metric([color], float(value))
            for cond in status.conditions:
                condition.add_metric([color, self.redact(cond.name)], 1.0 if cond.met else 0.0)
        yield state
        yield info
        for family, _ in values.values():
            yield family
        yield condition

    # ── per installation ──
    def _installation(self, snap: Published) -> Iterator[Metric]:
        live = GaugeMetricFamily(
            "bluegreen_live_color", "1 for the colour the proxy routes to.", labels=["color"]
        )
        for color in COLORS:
            live.add_metric([color], 1.0 if snap.live == color else 0.0)
        yield live
        canary = self.store.canary()
        share = GaugeMetricFamily(
            "bluegreen_canary_percent",
            "Share of clients (0-100) a canary sends to the colour that is not live.",
            labels=["color"],
        )
        for color in COLORS:
            percent = canary.percent if canary and canary.color == color else 0
            share.add_metric([color], float(percent))
        yield share
        if snap.tick_seconds is not None:
            yield GaugeMetricFamily(
                "bluegreen_agent_tick_duration_seconds",
                "How long the agent's last tick took.",
                value=snap.tick_seconds,
            )
        yield CounterMetricFamily(
            "bluegreen_agent_ticks_failed",
            "Ticks that raised (logged by the agent) since it started.",
            value=snap.ticks_failed,
        )

    def _operations(self) -> Iterator[Metric]:
        counts = self.store.count_successes(("switch", "rollback"))
        for kind, doc in (("switch", "Switches"), ("rollback", "Rollbacks")):
            family = CounterMetricFamily(
                f"bluegreen_{kind}es" if kind == "switch" else f"bluegreen_{kind}s",
                f"{doc} that succeeded, by who acted (agent or operator).",
                labels=["actor_kind"],
            )
            by_kind = {"agent": 0, "operator": 0}
            for (event_kind, actor), n in counts.items():
                if event_kind == kind:
                    by_kind[actor_kind(actor)] += n
            for label, n in by_kind.items():
                family.add_metric([label], float(n))
            yield family
        yield self._cutover_histogram()

    def _cutover_histogram(self) -> HistogramMetricFamily:
        since = self.clock() - _CUTOVER_WINDOW_SECONDS
        seconds = [
            point.value / 1000.0
            for name in ("switch_cutover_ms", "rollback_cutover_ms")
            for point in self.store.metrics(name, since)
        ]
        buckets: list[tuple[str, float]] = [
            (repr(bound), float(sum(1 for s in seconds if s <= bound))) for bound in CUTOVER_BUCKETS
        ]
        buckets.append(("+Inf", float(len(seconds))))
        return HistogramMetricFamily(
            "bluegreen_cutover_seconds",
            "Switch and rollback cutovers: change issued → first response from the new colour "
            "(those the store keeps: 24 h).",
            buckets=buckets,
            sum_value=sum(seconds),
        )


def _colour_gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"bluegreen_slot_{name}", doc, labels=["color", *extra])


def _closing_speed(status: SlotStatus) -> float | None:
    if status.at_head or status.speed is None or status.head_speed is None:
        return None
    return status.speed - status.head_speed


def _ready(status: SlotStatus) -> float | None:
    return 1.0 if status.ready else 0.0


# ── per colour: resources where measured (issue 11; the Docker stats stream, the database size) ──
RESOURCE_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("cpu_percent", "cpu_host_percent", "CPU use as a share of the whole host (0-100)."),
    ("memory_bytes", "memory_bytes", "Memory use without the page cache (as docker stats)."),
    ("memory_limit_bytes", "memory_limit_bytes", "The container's memory limit."),
    ("block_read_bps", "block_read_bytes_per_second", "Block I/O read rate."),
    ("block_write_bps", "block_write_bytes_per_second", "Block I/O write rate."),
    ("net_rx_bps", "network_receive_bytes_per_second", "Network receive rate."),
    ("net_tx_bps", "network_transmit_bytes_per_second", "Network transmit rate."),
    ("db_size_bytes", "database_size_bytes", "The colour's database size (pg_database_size)."),
    ("db_growth_bps", "database_growth_bytes_per_second", "How fast the database grows."),
    ("disk_free_bytes", "disk_free_bytes", "Free on disk_path, or disk_budget_bytes − size."),
    ("disk_full_in_seconds", "disk_full_in_seconds", "Time to a full disk at the growth rate."),
)


def resource_metrics(statuses: dict[Color, SlotStatus]) -> Iterator[Metric]:
    """One gauge per figure, a series per colour where it was measured (absent otherwise)."""
    for attribute, name, doc in RESOURCE_GAUGES:
        family = GaugeMetricFamily(f"bluegreen_slot_{name}", doc, labels=["color"])
        for color in COLORS:
            status = statuses.get(color)
            value = getattr(status.resources, attribute) if status and status.resources else None
            if value is not None:
                family.add_metric([color], float(value))
        yield family


def metrics_port_problem(listen: str, exc: OSError) -> str:
    return (
        f"Cannot serve metrics on {listen}: {exc.strerror or exc}. Choose a free port "
        "([metrics] listen or --metrics)."
    )


def serve(listen: tuple[str, int], services: Callable[[], Iterable[ServiceMetrics]]) -> Any:
    """Start the exporter on its own thread; returns the server (`.shutdown()` stops it). Its
    page is kept between scrapes (metrics_page.py)."""
    from console.agent.metrics_page import serve_page

    return serve_page(listen, services)
