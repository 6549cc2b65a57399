"""A Static that redraws only when its text or styles change, and re-lays-out only on resize.

The console redraws its panels after every 1 s poll. `Static.update` always asks for a layout
pass, which re-arranges the whole screen: with ~30 lines updated each second that was most of
the idle CPU, although almost nothing had changed. Comparing first makes an idle second cost
only what actually moved (an uptime, a lag).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.content import Content
from textual.widgets import Static


def _size(plain: str) -> tuple[int, ...]:
    return tuple(cell_len(line) for line in plain.split("\n"))


class TextLine(Static):
    def __init__(
        self, content: Content | str = "", *, id: str | None = None, classes: str | None = None
    ) -> None:
        initial = Content(content) if isinstance(content, str) else content
        super().__init__(initial, id=id, classes=classes)
        self._plain = initial.plain
        self._spans = tuple(initial.spans)

    def show(self, content: Content | str) -> None:
        content = Content(content) if isinstance(content, str) else content
        spans = tuple(content.spans)  # `Content.__eq__` ignores styles; a lag turning red matters
        if content.plain == self._plain and spans == self._spans:
            return
        # Same rows of the same widths cannot change the widget's size: repaint, no layout pass.
        resized = _size(content.plain) != _size(self._plain)
        self._plain, self._spans = content.plain, spans
        self.update(content, layout=resized)
