"""One overview row per service, composed from what its console last read (pure: no widgets).

A row is what the service's blue/green screen would say, folded to one line: the live colour and
its version, the idle colour's state (syncing 62 % · ETA 14m / ready / failed / empty), that
colour's gate, the live colour's traffic, the canary, who holds the lock, and the alerts. A
service whose reads hang is shown with its last values and how long it has not answered; a
service file that was skipped is a row with its error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.content import Content

from console.core.durations import duration_text
from console.core.gate.disk import is_disk_warning
from console.core.model import COLORS, Color, SlotState, SlotStatus, Status, other
from console.tui.format import clock_time
from console.tui.widgets.holds_badge import holds_alerts
from console.tui.widgets.slot_panel import COLOR_VARIABLE, STATE_STYLES

COLUMNS = ("service", "live", "idle", "gate", "traffic", "canary", "lock", "alerts")
LABELS = {"service": "SERVICE", "idle": "IDLE COLOUR", "traffic": "TRAFFIC req/s 5xx p99"}
# What `s` cycles through, in order; each sorts the most interesting rows first.
SORTS = ("service", "alerts", "idle", "traffic", "live", "lock")
# A drift event this recent is still an alert on the row.
DRIFT_RECENT_SECONDS = 600.0
NONE = Content.styled("—", "$text-muted")
SKIPPED = Content.styled("skipped", "$error")
# Sorting by the idle colour puts what needs a look first: failed, then syncing, …
IDLE_RANK = (
    SlotState.FAILED,
    SlotState.SYNCING,
    SlotState.STARTING,
    SlotState.READY,
    SlotState.STOPPED,
    SlotState.EMPTY,
    SlotState.LIVE,
)


@dataclass
class Reading:
    """What the overview knows of one service; updated by its own poll worker's messages."""

    name: str
    status: Status | None = None
    error: str | None = None  # the last poll failed: one sentence
    answered_at: float | None = None  # monotonic time of the last answer (status or error)
    asked_at: float | None = None  # monotonic time the poll now in flight started
    drift_at: float | None = None  # wall clock of the newest drift event
    skipped: str | None = None  # its file was skipped: why

    def silent_for(self, monotonic_now: float) -> float:
        """Seconds the poll in flight has been waiting (0 when none is)."""
        return 0.0 if self.asked_at is None else max(0.0, monotonic_now - self.asked_at)


@dataclass(frozen=True)
class Row:
    name: str
    cells: tuple[Content, ...]  # in COLUMNS order
    alerts: tuple[str, ...]
    detail: Content  # the sentence under the table when this row is selected
    sort_keys: dict[str, tuple[object, ...]]
    text: str  # what `/` matches against

    def matches(self, needle: str) -> bool:
        return not needle or needle.lower() in self.text


def _dot(color: Color) -> tuple[str, str]:
    return "●", f"${COLOR_VARIABLE[color]}"


def _version(slot: SlotStatus | None) -> str:
    if slot is None:
        return ""
    if slot.version:
        return slot.version
    image = slot.image or ""
    return image.rsplit(":", 1)[-1] if ":" in image else image


def idle_color(status: Status) -> Color:
    if status.live is not None:
        return other(status.live)
    running = [c for c, slot in status.slots.items() if slot.state is not SlotState.EMPTY]
    return running[-1] if running else "green"


def live_cell(status: Status) -> Content:
    if status.live is None:
        return Content.styled("none", "$warning")
    version = _version(status.slots.get(status.live))
    return Content.assemble(_dot(status.live), f" {status.live} {version}".rstrip())


def idle_cell(status: Status, compact: bool = False) -> Content:
    """ "● syncing 62 % · ETA 14m05s"; compact (80 columns): "● syncing 62% 14m05s"."""
    color = idle_color(status)
    slot = status.slots.get(color) or SlotStatus(color)
    parts: list[str | tuple[str, str]] = [_dot(color), " "]
    parts.append((slot.state.value, STATE_STYLES[slot.state].replace("reverse ", "")))
    if slot.state is SlotState.SYNCING:
        if slot.progress is not None:
            percent = max(0.0, min(1.0, slot.progress)) * 100
            parts.append(f" {percent:.0f}%" if compact else f" {percent:.0f} %")
        if slot.eta_seconds is not None:
            eta = duration_text(slot.eta_seconds)
            parts.append(f" {eta}" if compact else f" · ETA {eta}")
    elif slot.state in (SlotState.READY, SlotState.STARTING, SlotState.STOPPED):
        version = _version(slot)
        parts.append(f" {version}" if version else "")
    return Content.assemble(*parts)


def gate_cell(status: Status) -> Content:
    slot = status.slots.get(idle_color(status))
    if slot is None or not slot.conditions or slot.state is SlotState.EMPTY:
        return NONE
    met = sum(1 for c in slot.conditions if c.met)
    if met == len(slot.conditions):
        return Content.styled("✓ met", "$success")
    return Content.styled(f"{met}/{len(slot.conditions)}", "$warning")


def traffic_cell(status: Status) -> Content:
    slot = status.slots.get(status.live) if status.live else None
    traffic = slot.traffic if slot else None
    if traffic is None or traffic.rps is None:
        return NONE
    errors = "—" if traffic.error_rate is None else f"{traffic.error_rate * 100:.1f}%"
    p99 = "—" if traffic.p99_ms is None else f"{traffic.p99_ms:.0f}ms"
    style = "$error" if (traffic.error_rate or 0.0) >= 0.01 else ""
    rps = f"{traffic.rps:.1f}" if traffic.rps < 100 else f"{traffic.rps:,.0f}"
    return Content.assemble(f"{rps}/s ", (errors, style), f" {p99}")


def canary_cell(status: Status) -> Content:
    canary = status.canary
    if canary is None:
        return Content("")
    return Content.styled(f"{canary.percent}% → {canary.color}", "$warning")


def lock_cell(status: Status, compact: bool = False) -> Content:
    if status.lock is None:
        return Content("")
    holder = status.lock.user if compact else f"{status.lock.user} {status.lock.action}"
    return Content.styled(f"lock {holder}" if compact else holder, "$warning")


def alerts_of(
    reading: Reading, now: float, monotonic_now: float, stale_after: float
) -> dict[str, str]:
    """Each alert's word on the row → its sentence on the detail line."""
    alerts: dict[str, str] = {}
    silent = reading.silent_for(monotonic_now)
    if silent > stale_after:
        alerts[f"no answer {duration_text(silent)}"] = (
            f"its store has not answered for {duration_text(silent)}: values as last seen"
        )
    if reading.error:
        alerts["unreadable"] = reading.error
    status = reading.status
    if status is None:
        return alerts
    alerts.update(holds_alerts(status.holds, now))
    if not status.agent.running:
        alerts["agent stopped"] = "agent stopped: readiness and auto-switch are paused"
    slots = status.slots
    stalled = [f"{c}: {s.reason}" for c, s in slots.items() if _stalled(s)]
    if stalled:
        alerts["stalled"] = "; ".join(stalled)
    stale = [r.describe(now) for s in slots.values() for r in s.stale_parts(now)]
    if stale:
        alerts["stale parts"] = "; ".join(stale)
    if reading.drift_at is not None and now - reading.drift_at < DRIFT_RECENT_SECONDS:
        alerts["drift"] = (
            f"the proxy and the store disagreed at {clock_time(reading.drift_at)} (its events say "
            "what was fixed)"
        )
    disk = [sentence for s in slots.values() for sentence in _disk_alerts(s)]
    if disk:
        alerts["disk"] = "; ".join(disk)
    return alerts


def _stalled(slot: SlotStatus) -> bool:
    return slot.state is SlotState.FAILED and (slot.reason or "").startswith("Stalled")


def _disk_alerts(slot: SlotStatus) -> list[str]:
    warned = [w for w in (slot.resources.warnings if slot.resources else ()) if is_disk_warning(w)]
    unmet = [
        f"{slot.color}: {c.detail or c.name}"
        for c in slot.conditions
        if c.name == "free_disk_after_catchup" and not c.met
    ]
    return warned or unmet


def _detail(reading: Reading, alerts: dict[str, str]) -> Content:
    name = (reading.name, "bold")
    if reading.skipped:
        return Content.assemble(name, " ", (reading.skipped, "$error"))
    status = reading.status
    said = list(alerts.values())
    if status is not None:  # other reasons a colour gives (failed, not ready…)
        said += [
            f"{c}: {s.reason}" for c, s in status.slots.items() if s.reason and not _stalled(s)
        ]
    if status is None and not said:
        said.append("waiting for its first status…")
    text = "; ".join(said) if said else "no alerts · enter opens its blue/green screen"
    return Content.assemble(name, " ", (text, "$error" if alerts else "$text-muted"))


def row_for(
    reading: Reading, now: float, monotonic_now: float, stale_after: float, compact: bool = False
) -> Row:
    """The row, its detail sentence, its sort keys and its filter text. `compact` cells fit the
    80-column layout."""
    name = reading.name
    if reading.skipped:
        empty = Content("")
        cells = (Content.styled(name, "bold $error"), *([NONE] * 4), empty, empty, SKIPPED)
        text = f"{name} skipped {reading.skipped}".lower()
        return Row(name, cells, ("skipped",), _detail(reading, {}), _skipped_keys(name), text)
    alerts = alerts_of(reading, now, monotonic_now, stale_after)
    late = bool(reading.error) or any(a.startswith("no answer") for a in alerts)
    title = Content.styled(name, "bold $warning" if late else "bold")
    status = reading.status
    if status is None:
        body: tuple[Content, ...] = (NONE,) * 6
    else:
        body = (
            live_cell(status),
            idle_cell(status, compact),
            gate_cell(status),
            traffic_cell(status),
            canary_cell(status),
            lock_cell(status, compact),
        )
    alert_cell = Content.styled(" ".join(alerts), "$error") if alerts else Content("")
    cells = (title, *body, alert_cell)
    text = " ".join(cell.plain for cell in cells).lower()
    keys = _sort_keys(name, status, len(alerts))
    return Row(name, cells, tuple(alerts), _detail(reading, alerts), keys, text)


def _sort_keys(name: str, status: Status | None, alerts: int) -> dict[str, tuple[object, ...]]:
    idle = status.slots.get(idle_color(status)) if status else None
    live = status.slots.get(status.live) if status and status.live else None
    rps = live.traffic.rps if live and live.traffic and live.traffic.rps is not None else -1.0
    idle_rank = IDLE_RANK.index(idle.state) if idle else len(IDLE_RANK)
    return {
        "service": (name,),
        "alerts": (-alerts, name),
        "idle": (idle_rank, -(idle.progress or 0.0) if idle else 0.0, name),
        "traffic": (-rps, name),
        "live": (COLORS.index(status.live) if status and status.live else 2, name),
        "lock": (0 if status and status.lock else 1, name),
    }


def _skipped_keys(name: str) -> dict[str, tuple[object, ...]]:
    """Last in every sort but the name's and the alerts' (a skipped file is the first alert)."""
    keys: dict[str, tuple[object, ...]] = {sort: (math.inf, math.inf, name) for sort in SORTS}
    keys["service"], keys["alerts"] = (name,), (-math.inf, name)
    return keys
