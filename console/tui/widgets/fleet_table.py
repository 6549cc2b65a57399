"""The overview's table: fixed-width columns laid out here, one option per service in an OptionList
(which brings the cursor, scrolling and enter).

Each column takes the width its widest cell needs, up to a cap, and the last one takes what is
left. Below `WIDE` columns the canary, lock and alerts share one NOTES column, so that a row of
service, live, idle, gate and traffic still fits 80 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import reactive
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


def layout(
    rows: Sequence[Row], width: int, lines: dict[str, tuple[Row, object, Content]] | None = None
) -> tuple[Content, list[Content]]:
    """The header and one line per row, every line at most `width` cells. `lines` (row name →
    the row, its column widths and its line), when given, keeps each line for the next call: a
    row object laid out at the same widths is not cut and joined again (sorting and filtering
    only rearrange rows)."""
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
        # Only a terminal narrower than the columns' minimums gets here over its width.
        return Content(" " * gap).join(fitted).truncate(width)

    header = line([Content.styled(_label(c, wide), "bold $text-muted") for c in columns])
    if lines is None:
        return header, [line(cells) for cells in table]
    shape = (tuple(widths), width)
    laid: list[Content] = []
    for row, cells in zip(rows, table, strict=True):
        kept = lines.get(row.name)
        if kept is None or kept[0] is not row or kept[1] != shape:
            kept = lines[row.name] = (row, shape, line(cells))
        laid.append(kept[2])
    return header, laid


def _same(a: Content, b: Content) -> bool:
    return a is b or (a.plain == b.plain and tuple(a.spans) == tuple(b.spans))


class FleetTable(OptionList):
    """Only what changed is drawn again: a changed row's line alone; a new order or filter moves
    the services' options, keeping their renderings; a move of the cursor repaints the two lines
    it leaves and lands on."""

    # OptionList's own enter, shown: on the overview it opens the selected service.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", tooltip="Open the selected service's screen.")
    ]
    # OptionList repaints every row when the cursor moves; `watch_highlighted` repaints two.
    highlighted: reactive[int | None] = reactive(None, repaint=False)

    def __init__(self) -> None:
        super().__init__(id="fleet-table")
        self._row_names: list[str] = []
        self._row_lines: list[Content] = []
        self._laid: dict[str, tuple[Row, object, Content]] = {}  # layout's kept lines
        self._by_name: dict[str, Option] = {}  # each service's option, shown or filtered out
        # The index each option's kept renderings carry in their mouse meta (OptionList bakes
        # the index in; a moved option's renderings are given the new one, not rendered again).
        self._baked: dict[Option, int] = {}
        self._width: int | None = None
        # OptionList's internals moved here (Textual 8); without them, its public calls.
        self._internals = all(
            hasattr(self, name)
            for name in ("_id_to_option", "_option_to_index", "_option_render_cache", "_line_cache")
        )

    def show(self, rows: Sequence[Row], width: int) -> Content:
        """Draw `rows` (already filtered and sorted); returns the header line for them."""
        header, lines = layout(rows, width, self._laid)
        names = [row.name for row in rows]
        if names != self._row_names:
            self._arrange(names, lines)
        else:
            for index, (old, new) in enumerate(zip(self._row_lines, lines, strict=True)):
                if not _same(old, new):
                    self._replace_row(index, new)
        self._row_lines = lines
        return header

    def _arrange(self, names: list[str], lines: list[Content]) -> None:
        """Show these services in this order. OptionList's `set_options` would drop every
        rendering and build new options, so a sort or a filter rendered all the rows again; here
        the options are kept per service and moved (OptionList's lists and maps, Textual 8)."""
        selected = self.selected_name()
        if not self._internals:
            self.set_options(Option(text, id=name) for name, text in zip(names, lines, strict=True))
            self._row_names = names
            if names:
                self.highlighted = names.index(selected) if selected in names else 0
            return
        options: list[Option] = []
        for name, line in zip(names, lines, strict=True):
            option = self._by_name.get(name)
            if option is None:
                option = self._by_name[name] = Option(line, id=name)
            elif not _same(option.prompt, line):  # type: ignore[arg-type]
                self._set_prompt(option, line)
            options.append(option)
        self._options[:] = options
        self._id_to_option = {name: option for name, option in zip(names, options, strict=True)}
        self._option_to_index = {option: index for index, option in enumerate(options)}
        self._rebake(options)
        self._line_cache.clear()  # which line shows which option: one line each, cheap
        self._row_names = names
        self._update_lines()
        self.refresh()
        if names:
            self.highlighted = names.index(selected) if selected in names else 0
            self.scroll_to_highlight()
        else:
            self.highlighted = None

    def _rebake(self, options: list[Option]) -> None:
        moved = {
            option: index
            for index, option in enumerate(options)
            if self._baked.setdefault(option, index) != index
        }
        if not moved:
            return
        cache = self._option_render_cache
        for key in [key for key in cache.keys() if key[0] in moved]:  # noqa: SIM118
            meta = {"option": moved[key[0]]}
            cache[key] = [strip.apply_meta(meta) for strip in cache[key]]
        self._baked.update(moved)

    def _set_prompt(self, option: Option, line: Content) -> None:
        option._set_prompt(line)
        cache = self._option_render_cache
        for key in [key for key in cache.keys() if key[0] is option]:  # noqa: SIM118 (no __iter__)
            cache.discard(key)
        self._baked[option] = self._option_to_index.get(option, self._baked.get(option, 0))

    def _replace_row(self, index: int, line: Content) -> None:
        """Only that row drawn again (OptionList's `replace_option_prompt_at_index` repaints the
        whole list). Rows are one line each (cut to the width), so no other row moves."""
        if not self._internals:
            self.replace_option_prompt_at_index(index, line)
            return
        self._set_prompt(self.get_option_at_index(index), line)
        self.refresh_line(self._index_to_line[index])

    def watch_highlighted(self, old: int | None, new: int | None) -> None:  # type: ignore[override]
        super().watch_highlighted(new)
        lines = self._index_to_line
        for index in (old, new):
            if index is not None and index in lines:
                self.refresh_line(lines[index])

    def _on_resize(self, event: events.Resize | None = None) -> None:
        """OptionList drops every rendering at each resize; they depend on the width only, and
        the filter field showing or hiding changes the height."""
        if event is not None:
            event.prevent_default()
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._clear_caches()
            self._baked.clear()

    def selected_name(self) -> str | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self._row_names):
            return None
        return self._row_names[index]
