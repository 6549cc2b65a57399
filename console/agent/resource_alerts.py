"""Resource warnings across both colours, and each deployment's peaks for the history.

- Contention: while the candidate syncs, the live colour's p99 (the proxy's traffic figures) or
  CPU share is compared with what it was while nothing synced (console/core/gate/disk.py); a
  degradation becomes a warning on the live colour's resources (screen, `status`), an event and
  a notification.
- Disk: a colour whose database fills before it catches up (its resources carry the warning,
  from ResourceWatch) is recorded and notified once per deployment, again after it cleared.
- Evidence first: a warning (disk or contention) is recorded and notified only once it has held
  `[notify] alarm_after_seconds`, and says how long; one odd reading (an ETA from a near-zero
  closing speed, a latency spike) is not an alarm. When it goes away after being sent, an event
  and a notification say it cleared.
- History: every tick's figures fold into the deployment's peaks (store/resources); when the
  deployment becomes ready, a notification and an event carry them.
"""

from __future__ import annotations

import time
from dataclasses import replace

from console.agent.slot_compose import TickInputs
from console.core.config.resources import ResourcesConfig
from console.core.contracts.notifier import Notifier
from console.core.durations import duration_text
from console.core.gate.disk import (
    ContentionBaseline,
    LiveReading,
    contention_warning,
    is_disk_warning,
)
from console.core.measures.resources import ResourceFigures
from console.core.model import COLORS, Color, SlotState, SlotStatus, other
from console.core.store.resources import DeploymentResources, put_deployment_resources
from console.core.store.store import Store

_WRITE_EVERY_SECONDS = 30.0  # peaks are for planning: a write every half minute is plenty
_SYNCING = (SlotState.STARTING, SlotState.SYNCING)


class ResourceAlerts:
    def __init__(
        self,
        config: ResourcesConfig,
        store: Store,
        notifier: Notifier,
        *,
        alarm_after: float,
        service: str,
        actor: str,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.service = service
        self.actor = actor
        self.enabled = config.stats
        self.contention = config.contention_warning
        self.baselines = {color: ContentionBaseline() for color in COLORS}
        self.peaks: dict[int, DeploymentResources] = {}
        self._written: dict[int, tuple[float, DeploymentResources]] = {}
        self.alarm_after = alarm_after  # [notify] alarm_after_seconds
        self._warned: set[tuple[Color, str]] = set()
        self._seen_since: dict[tuple[Color, str], float] = {}  # a warning's first tick in a row
        self._summarized: set[int] = set()

    def annotate(self, status: SlotStatus, tick: TickInputs) -> SlotStatus:
        """The live colour's status with a contention warning when the candidate (as of the
        last tick: the live colour is composed first) is syncing and hurting it."""
        color = status.color
        if not (self.enabled and self.contention) or color != tick.live:
            return status
        candidate = tick.previous.get(other(color))
        reading = LiveReading(
            status.traffic.p99_ms if status.traffic is not None else None,
            status.resources.cpu_percent if status.resources is not None else None,
        )
        if candidate is None or candidate.state not in _SYNCING:
            self.baselines[color].learn(reading)
            return status
        candidate_cpu = candidate.resources.cpu_percent if candidate.resources else None
        warning = contention_warning(
            color, candidate.color, reading, self.baselines[color], candidate_cpu
        )
        if warning is None:
            return status
        figures = status.resources or ResourceFigures()
        return replace(status, resources=replace(figures, warnings=(*figures.warnings, warning)))

    def after_tick(self, statuses: dict[Color, SlotStatus], now: float | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        for color, status in statuses.items():
            figures = status.resources
            self._warn(color, status, figures, now)
            if figures is None or status.deployment_id is None:
                continue
            self._fold(status.deployment_id, figures)
            if status.state == SlotState.READY and status.deployment_id not in self._summarized:
                self._summarized.add(status.deployment_id)
                self._summarize(color, status)

    def _warn(
        self, color: Color, status: SlotStatus, figures: ResourceFigures | None, now: float
    ) -> None:
        warnings = figures.warnings if figures is not None else ()
        store, service = self.store, self.service
        for kind in ("disk", "contention"):
            text = next((w for w in warnings if _kind(w) == kind), None)
            key = (color, kind)
            if text is None:
                self._seen_since.pop(key, None)
                if key in self._warned:  # cleared: say so, and warn again if it comes back
                    self._warned.discard(key)
                    cleared = f"{color}'s {kind} warning cleared."
                    store.record_event(
                        "resources", cleared, "info", self.actor, color, status.deployment_id
                    )
                    self.notifier.send("resources", f"{service}: {cleared}")
                continue
            held = now - self._seen_since.setdefault(key, now)
            if key in self._warned or held < self.alarm_after:
                continue
            self._warned.add(key)
            if held > 0:
                text = f"{text} (for {duration_text(held)})"
            store.record_event(
                "resources", text, "warning", self.actor, color, status.deployment_id
            )
            self.notifier.send("resources", f"{service}: {text}", "warning")

    def _fold(self, deployment_id: int, figures: ResourceFigures) -> None:
        folded = self.peaks.get(deployment_id, DeploymentResources()).folded(figures)
        self.peaks[deployment_id] = folded
        now = time.monotonic()
        written_at, written = self._written.get(deployment_id, (-float("inf"), None))
        if folded != written and now - written_at >= _WRITE_EVERY_SECONDS:
            self._write(deployment_id, folded, now)

    def _write(self, deployment_id: int, value: DeploymentResources, now: float) -> None:
        put_deployment_resources(self.store, deployment_id, value)
        self._written[deployment_id] = (now, value)

    def _summarize(self, color: Color, status: SlotStatus) -> None:
        assert status.deployment_id is not None
        peaks = self.peaks[status.deployment_id]
        self._write(status.deployment_id, peaks, time.monotonic())
        summary = peaks.summary()
        if not summary:
            return
        text = f"{color} ({status.version or '?'}) caught up using {summary}."
        self.store.record_event("resources", text, "info", self.actor, color, status.deployment_id)
        self.notifier.send("resources", f"{self.service}: {text}")

    def close(self) -> None:
        for deployment_id, peaks in self.peaks.items():
            if self._written.get(deployment_id, (0.0, None))[1] != peaks:
                self._write(deployment_id, peaks, time.monotonic())


def _kind(warning: str) -> str:
    return "disk" if is_disk_warning(warning) else "contention"
