"""The overview's table: fixed-width columns laid out here, one option per service in an OptionList
(which brings the cursor, scrolling and enter).

Each column takes the width its widest cell needs, up to a cap, and the last one takes what is
left. Below `WIDE` columns the canary, lock and alerts share one NOTES column, so that a row of
service, live, idle, gate and traffic still fits 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from console.tui.widgets.fleet_rows import COLUMNS, LABELS, Row

WIDE = 110
GAP = 2
CAPS = {"service": 16, "live": 16, "idle": 28, "gate": 6, "traffic": 22, "canary": 14, "lock": 18}
NARROW_CAPS = {"service": 10, "live": 10, "idle": 20, "gate": 5, "traffic": 15}
NARROW = ("service", "live", "idle", "gate", "traffic", "notes")
MIN_WIDTH = 5  # a column narrowed to fit keeps this much
LAST_MIN = 12  # and the last one (alerts, or notes) at least this


def _label(column: str, wide: bool = True) -> str:
    return LABELS.get(column, column.upper()) if wide else column.upper()


def _cells(row: Row, columns: Sequence[str]) -> list[Content]:
    by_name = dict(zip(COLUMNS, row.cells, strict=True))
    if "notes" not in columns:
        return [by_name[c] for c in columns]
    notes = [by_name[c] for c in ("alerts", "canary", "lock") if by_name[c].plain]
    return [*(by_name[c] for c in columns[:-1]), Content(" · ").join(notes)]


def layout(rows: Sequence[Row], width: int) -> tuple[Content, list[Content]]:
    """The header and one line per row, every line at most `width` cells."""
    wide = width >= WIDE
    columns = COLUMNS if wide else NARROW
    caps = CAPS if wide else NARROW_CAPS
    gap = GAP if wide else 1
    table = [_cells(row, columns) for row in rows]
    widths: list[int] = []
    for index, column in enumerate(columns[:-1]):
        needed = max([len(_label(column, wide)), *(cells[index].cell_length for cells in table)])
        widths.append(min(caps[column], needed))
    # Too wide for the terminal: narrow the widest column, one cell at a time, until the last
    # one keeps LAST_MIN cells (or every column is down to MIN_WIDTH).
    room = width - gap * (len(columns) - 1) - LAST_MIN
    while sum(widths) > room and max(widths) > MIN_WIDTH:
        widths[widths.index(max(widths))] -= 1
    widths.append(max(1, width - sum(widths) - gap * (len(columns) - 1)))

    def line(cells: Sequence[Content]) -> Content:
        fitted = [
            cell.truncate(w, ellipsis=True, pad=i < len(cells) - 1)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return Content(" " * gap).join(fitted)

    header = line([Content.styled(_label(c, wide), "bold $text-muted") for c in columns])
    # Only a terminal narrower than the columns' minimums gets here over its width.
    return header.truncate(width), [line(cells).truncate(width) for cells in table]


def _same(a: Content, b: Content) -> bool:
    return a.plain == b.plain and tuple(a.spans) == tuple(b.spans)


class FleetTable(OptionList):
    """Only what changed is sent to the list: a prompt replaced, or the options rebuilt when the
    set or order of services changed (the cursor stays on the service it was on)."""

    # OptionList's own enter, shown: on the overview it opens the selected service.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", tooltip="Open the selected service's screen.")
    ]

    def __init__(self) -> None:
        super().__init__(id="fleet-table")
        self._row_names: list[str] = []
        self._row_lines: list[Content] = []

    def show(self, rows: Sequence[Row], width: int) -> Content:
        """Draw `rows` (already filtered and sorted); returns the header line for them."""
        header, lines = layout(rows, width)
        names = [row.name for row in rows]
        if names != self._row_names:
            selected = self.selected_name()
            self.set_options(Option(text, id=name) for name, text in zip(names, lines, strict=True))
            self._row_names = names
            if names:
                self.highlighted = names.index(selected) if selected in names else 0
        else:
            for index, (old, new) in enumerate(zip(self._row_lines, lines, strict=True)):
                if not _same(old, new):
                    self._replace_row(index, new)
        self._row_lines = lines
        return header

    def _replace_row(self, index: int, line: Content) -> None:
        """Only that row drawn again. OptionList's `replace_option_prompt_at_index` drops every
        option's rendering and repaints the whole list, so a tick in which one service changed
        rendered all twenty rows again. Rows are one line each (cut to the width), so no other
        row moves. Uses OptionList's render cache and line index (Textual 8); without them, the
        public call."""
        option = self.get_option_at_index(index)
        cache = getattr(self, "_option_render_cache", None)
        lines = getattr(self, "_index_to_line", None)
        if cache is None or lines is None or not hasattr(option, "_set_prompt"):
            self.replace_option_prompt_at_index(index, line)
            return
        option._set_prompt(line)
        for key in [key for key in cache.keys() if key[0] is option]:  # noqa: SIM118 (no __iter__)
            cache.discard(key)
        self.refresh_line(lines[index])

    def selected_name(self) -> str | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self._row_names):
            return None
        return self._row_names[index]
