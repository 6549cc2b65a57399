"""Asks before quitting while an operation is still running."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class QuitConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Quit", id="quit.yes"),
        Binding("n,escape", "answer(False)", "Stay", id="quit.no"),
    ]

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
            with Horizontal(classes="buttons"):
                yield Button("Stay", id="cancel")
                yield Button("Quit", id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")
