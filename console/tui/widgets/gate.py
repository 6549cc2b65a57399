"""The readiness gate: each condition as met (✓) or not (✗ and why)."""

from __future__ import annotations

from textual.content import Content

from console.core.model import Condition
from console.tui.widgets.text_line import TextLine


def gate_content(conditions: tuple[Condition, ...], inline: bool) -> Content:
    if not conditions:
        return Content.styled("gate: no conditions evaluated yet", "$text-muted")
    parts: list[str | tuple[str, str]] = []
    for index, condition in enumerate(conditions):
        if index:
            parts.append("  " if inline else "\n")
        if condition.met:
            parts.append((f"✓ {condition.name}", "$success"))
        else:
            detail = f" — {condition.detail}" if condition.detail else ""
            parts.append((f"✗ {condition.name}{detail}", "$error"))
    return Content.assemble(*parts)


class GateList(TextLine):
    """One line per condition; all on wrapped lines when the screen is short."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="gate")
        self._conditions: tuple[Condition, ...] = ()

    def show_conditions(self, conditions: tuple[Condition, ...]) -> None:
        self._conditions = conditions
        self.show(gate_content(conditions, inline=self._inline()))

    def on_resize(self) -> None:
        self.show(gate_content(self._conditions, inline=self._inline()))

    def _inline(self) -> bool:
        return self.screen.has_class("-short")
