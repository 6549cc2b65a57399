"""One colour's panel: state, image, container, heights, progress, speed/ETA, sparkline, gate.

For a service that does not re-index (no [candidate]) the height, progress, speed/ETA and
sparkline rows are hidden: they would only ever show dashes.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import ProgressBar

from console.core.durations import duration_text
from console.core.measures.parity import summary as parity_summary
from console.core.measures.traffic import traffic_text
from console.core.model import Color, SlotState, SlotStatus, SpeedPoint
from console.tui.format import eta, number, rate
from console.tui.widgets.gate import GateList
from console.tui.widgets.resource_lines import ResourceLines
from console.tui.widgets.sparkline import SpeedSparkline
from console.tui.widgets.text_line import TextLine
from console.tui.widgets.traffic_sparkline import TrafficSparkline

STATE_STYLES: dict[SlotState, str] = {
    SlotState.EMPTY: "$text-muted",
    SlotState.STARTING: "bold $accent",
    SlotState.SYNCING: "bold $warning",
    SlotState.READY: "bold $success",
    SlotState.LIVE: "bold reverse $success",
    SlotState.FAILED: "bold reverse $error",
    SlotState.STOPPED: "$text-muted",
}
COLOR_VARIABLE: dict[Color, str] = {"blue": "primary", "green": "success"}


def state_line(slot: SlotStatus) -> Content:
    image = slot.image or "no image"
    version = f"  ({slot.version})" if slot.version and slot.version not in image else ""
    return Content.assemble(
        (f" {slot.state.value.upper()} ", STATE_STYLES[slot.state]), f"  {image}{version}"
    )


def container_line(slot: SlotStatus, now: float) -> Content:
    if slot.container_state is None:
        return Content.styled("no container", "$text-muted")
    health: tuple[str, str] = {
        True: ("healthy", "$success"),
        False: ("unhealthy", "$error"),
        None: ("health unknown", "$text-muted"),
    }[slot.healthy]
    uptime = f" · up {duration_text(now - slot.started_at)}" if slot.started_at else ""
    restarts = f" · {slot.restart_count} restarts" if slot.restart_count else ""
    if slot.is_stale("docker", now):
        # What Docker said last, not what is: never drawn as a fresh, green "running".
        return Content.assemble(
            (f"{slot.container_state}?", "$warning"), " · ", health, (" · Docker silent", "$error")
        )
    running = "$success" if slot.container_state == "running" else "$warning"
    return Content.assemble((slot.container_state, running), " · ", health, f"{uptime}{restarts}")


def height_line(slot: SlotStatus, now: float) -> Content:
    lag_style = "$success" if slot.lag is not None and slot.lag <= 2 else "$warning"
    stale = slot.is_stale("height", now) or slot.is_stale("head", now)
    return Content.assemble(
        f"height {number(slot.height)} / head {number(slot.head)} · lag ",
        (number(slot.lag), "$warning" if stale else lag_style),
        (" · stale", "$error") if stale else "",
    )


def speed_line(slot: SlotStatus, now: float) -> Content:
    head = f" (head +{rate(slot.head_speed)})" if slot.head_speed is not None else ""
    if slot.at_head:
        return Content(f"speed {rate(slot.speed)}{head} · at head")
    if slot.state in (SlotState.LIVE, SlotState.READY) or slot.speed is None:
        return Content(f"speed {rate(slot.speed)}{head}")
    return Content(f"speed {rate(slot.speed)}{head} · ETA {eta(slot.eta_seconds, now)}")


class SlotPanel(Vertical):
    """Widget ids are `<colour>-<part>` so tests (and the lead's end-to-end test) can find them."""

    def __init__(self, color: Color) -> None:
        super().__init__(id=f"panel-{color}", classes=f"slot -{color}")
        self.color = color
        self.border_title = color.upper()
        self._catchup_rows_hidden = False

    def compose(self) -> ComposeResult:
        c = self.color
        # Rows are vertical in a side-by-side panel and horizontal when stacked (full width).
        with Horizontal(classes="slot-row"):
            yield TextLine(id=f"{c}-state", classes="slot-line")
            yield TextLine(id=f"{c}-container", classes="slot-line")
        with Horizontal(classes="slot-row", id=f"{c}-height-row"):
            yield TextLine(id=f"{c}-height", classes="slot-line")
            yield ProgressBar(total=100, show_eta=False, id=f"{c}-progress")
        yield TextLine(id=f"{c}-speed", classes="slot-line")
        traffic = TextLine(id=f"{c}-traffic", classes="slot-line")
        traffic.display = False  # until the proxy has counted
        yield traffic
        yield ResourceLines(c)
        parity = TextLine(id=f"{c}-parity", classes="slot-line")
        parity.display = False  # until both colours were compared ([[parity]])
        yield parity
        yield TrafficSparkline(id=f"{c}-traffic-spark")
        yield TextLine(id=f"{c}-reason", classes="slot-line reason")
        yield SpeedSparkline(line_variable=COLOR_VARIABLE[c], id=f"{c}-sparkline")
        yield GateList(id=f"{c}-gate")

    def show(
        self,
        slot: SlotStatus,
        live: bool,
        history: list[SpeedPoint],
        now: float,
        catchup: bool = True,
    ) -> None:
        c = self.color
        # Each assignment below repaints (a class change restyles the whole panel) even when the
        # value is the same, so only what changed is set: idle polls then cost almost nothing.
        title = f"{c.upper()} · live" if live else c.upper()
        if self.border_title != title:
            self.border_title = title
        if self.has_class("-live") != live:
            self.set_class(live, "-live")
        self.query_one(f"#{c}-state", TextLine).show(state_line(slot))
        self.query_one(f"#{c}-container", TextLine).show(container_line(slot, now))
        traffic = self.query_one(f"#{c}-traffic", TextLine)
        if traffic.display != (slot.traffic is not None):
            traffic.display = slot.traffic is not None
        if slot.traffic is not None:
            traffic.show(traffic_text(slot.traffic))
        self.query_one(ResourceLines).show(slot.resources)
        self._show_parity(slot, live)
        self.query_one(TrafficSparkline).show(slot.traffic, live, slot.updated_at)
        reason = self.query_one(f"#{c}-reason", TextLine)
        reason.display = bool(slot.reason)
        reason.show(Content.styled(f"⚠ {slot.reason}", "$error") if slot.reason else "")
        self.query_one(f"#{c}-gate", GateList).show_conditions(slot.conditions)
        if not catchup:
            self._hide_catchup_rows()
            return
        self.query_one(f"#{c}-height", TextLine).show(height_line(slot, now))
        bar = self.query_one(f"#{c}-progress", ProgressBar)
        # Hidden rather than indeterminate: an animated bar says "working" when nothing is known.
        bar.display = slot.progress is not None
        if slot.progress is not None:
            percent = round(max(0.0, min(1.0, slot.progress)) * 100, 1)
            if bar.progress != percent:
                bar.update(total=100, progress=percent)
        self.query_one(f"#{c}-speed", TextLine).show(speed_line(slot, now))
        self.query_one(f"#{c}-sparkline", SpeedSparkline).show(history, now)

    def _show_parity(self, slot: SlotStatus, live: bool) -> None:
        """On the colour that is not live: is its data the same as the live one's at a height?"""
        line = self.query_one(f"#{self.color}-parity", TextLine)
        shown = slot.parity is not None and not live
        if line.display != shown:
            line.display = shown
        if slot.parity is None or not shown:
            return
        ok = slot.parity.all_match
        style = "$success" if ok else "$error"
        line.show(Content.styled(f"{'✓' if ok else '✗'} {parity_summary(slot.parity)}", style))

    def _hide_catchup_rows(self) -> None:
        # Once: catch-up is a property of the configuration. Never set back to shown here, so the
        # stylesheet's own folding of the sparkline on short screens stays in charge.
        if self._catchup_rows_hidden:
            return
        self._catchup_rows_hidden = True
        for part in ("height-row", "speed", "sparkline"):
            self.query_one(f"#{self.color}-{part}").display = False
