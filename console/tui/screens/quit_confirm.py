"""Asks before quitting while an operation is still running."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Button, Label

from console.tui.screens.confirm import ConfirmScreen, answer_bindings, answer_buttons


class QuitConfirmScreen(ConfirmScreen):
    BINDINGS: ClassVar[list[BindingType]] = answer_bindings("quit", "Quit", no="Stay")

    def __init__(self, action: str) -> None:
        super().__init__(id="quit-confirm", classes="dialog-screen")
        self.action_name = action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"'{self.action_name}' is still running. Quit anyway?", classes="title")
            yield Label(
                "The operation is stopped at its next step; the operator lock is released.",
                classes="detail",
            )
            yield answer_buttons("Stay", Button("Quit", id="confirm", variant="error"))
