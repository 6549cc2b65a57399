"""A colour's resources on its panel: one line of usage with a CPU sparkline, one of database
and disk (with its warnings).

The sparkline is drawn in block characters inside the line (no extra rows: the panel must stay
legible at 80×24) from the CPU history the agent publishes, scaled to the whole host (0–100 %),
so both colours' lines compare at a glance. On short terminals both lines fold into one compact
line, which still says "fills before caught up".
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content

from console.core.gate.disk import is_disk_warning
from console.core.measures.resources import ResourceFigures, compact_text, disk_text, resources_text
from console.tui.widgets.text_line import TextLine

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_POINTS = 8  # the newest 4 minutes fit beside the figures in a 120-column half panel


def cpu_sparkline(history: tuple[float, ...], points: int = SPARK_POINTS) -> str:
    """'▁▂▅█' for CPU % of the host; the top block is a full host."""
    recent = history[-points:]
    return "".join(
        BLOCKS[min(len(BLOCKS) - 1, int(max(0.0, value) / 100.0 * len(BLOCKS)))] for value in recent
    )


def usage_line(figures: ResourceFigures, points: int = SPARK_POINTS) -> Content:
    """'cpu 71% ▃▅▆▇ · mem 1.4G/4.0G · rd 3.0M/s wr 9.0M/s': the sparkline beside the CPU."""
    text = resources_text(figures)
    spark = cpu_sparkline(figures.cpu_history, points)
    if not spark or not text.startswith("cpu "):
        return Content(text)
    cpu, _, rest = text.partition(" · ")
    return Content.assemble(f"{cpu} ", (spark, "$accent"), f" · {rest}" if rest else "")


def _panel_warnings(figures: ResourceFigures) -> str:
    # The disk's own sentence repeats the disk line ("fills before caught up"): not twice.
    shown = [w for w in figures.warnings if not is_disk_warning(w)]
    return " ".join(f"⚠ {warning}" for warning in shown)


def disk_line(figures: ResourceFigures) -> Content:
    text = disk_text(figures) or ""
    style = "$error" if figures.fills_before_caught_up else ""
    warnings = _panel_warnings(figures)
    return Content.assemble(
        (text, style) if style else text,
        " " if text and warnings else "",
        (warnings, "$warning") if warnings else "",
    )


def compact_line(figures: ResourceFigures) -> Content:
    """One line for short terminals: usage, database and disk, the warning in red."""
    spark = cpu_sparkline(figures.cpu_history, 8)
    text = compact_text(figures)
    cpu, sep, rest = text.partition(" · ")
    head: list[Content | str | tuple[str, str]] = (
        [f"{cpu} ", (spark, "$accent"), f"{sep}{rest}"]
        if spark and text.startswith("cpu ")
        else [text]
    )
    if figures.fills_before_caught_up:
        head.append((" — fills before caught up", "$error"))
    warnings = _panel_warnings(figures)
    if warnings:
        head.append((f" {warnings}", "$warning"))
    return Content.assemble(*head)


class ResourceLines(Vertical):
    # Unscoped: the rules name the screen's size classes (-short), outside this widget.
    SCOPED_CSS = False
    DEFAULT_CSS = """
    ResourceLines { height: auto; }
    ResourceLines > TextLine { height: auto; }
    ResourceLines > .resource-disk.-empty { display: none; }
    ResourceLines > .resource-compact { display: none; }
    Screen.-short ResourceLines > .resource-full { display: none; }
    Screen.-short ResourceLines > .resource-compact { display: block; }
    """

    def __init__(self, color: str) -> None:
        super().__init__(id=f"{color}-resources-box")
        self.color = color
        self.display = False  # until the agent has measured something

    def compose(self) -> ComposeResult:
        c = self.color
        yield TextLine(id=f"{c}-resources", classes="slot-line resource-full")
        yield TextLine(id=f"{c}-disk", classes="slot-line resource-full resource-disk")
        yield TextLine(id=f"{c}-resources-compact", classes="slot-line resource-compact")

    def show(self, figures: ResourceFigures | None) -> None:
        if self.display != (figures is not None):
            self.display = figures is not None
        if figures is None:
            return
        c = self.color
        self.query_one(f"#{c}-resources", TextLine).show(usage_line(figures))
        disk = self.query_one(f"#{c}-disk", TextLine)
        empty = not (disk_text(figures) or _panel_warnings(figures))
        if disk.has_class("-empty") != empty:
            disk.set_class(empty, "-empty")
        disk.show(disk_line(figures))
        self.query_one(f"#{c}-resources-compact", TextLine).show(compact_line(figures))
