"""`?`: every key this console binds, from the same registry as the footer and the palette."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from console.tui.actions import ActionSpec


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close")
    ]

    def __init__(self, keys: Sequence[ActionSpec], read_only: bool) -> None:
        super().__init__(id="help", classes="dialog-screen")
        self.keys = keys
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        rows = [
            Content.assemble(
                (f"{spec.key_display or spec.key:>3}", "bold $accent"),
                "  ",
                (f"{spec.label:<11}", "bold"),
                spec.tooltip,
            )
            for spec in self.keys
        ]
        with Vertical(classes="dialog"):
            yield Label("Keys", classes="title")
            yield Static(Content("\n").join(rows), id="help-keys")
            if self.read_only:
                yield Label(
                    Content.styled(
                        "Read-only: deploy, switch and roll back are not bound.", "$warning"
                    ),
                    classes="detail",
                )
            yield Label(Content.styled("ctrl+p: command palette · esc: close", "$text-muted"))

    def action_close(self) -> None:
        self.dismiss(None)
