"""`X`: "Retire blue (web) with 3 sessions still on it?" — the end of a session-kept switch.

The old colour is stopped now, whatever sessions are still on it; the dialog names the service,
the colour and the count the agent last published (or says it is not counted), and that rollback
to it is no longer instant after.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Button, Label

from console.core.measures.sessions import MigrationView
from console.tui.screens.confirm import ConfirmScreen, answer_bindings, answer_buttons


def retire_title(view: MigrationView, service: str) -> str:
    """'Retire blue (web) with 3 sessions still on it?'"""
    count = "an uncounted number of" if view.on_old is None else str(view.on_old)
    plural = "" if view.on_old == 1 else "s"
    return f"Retire {view.old} ({service}) with {count} session{plural} still on it?"


class ConfirmRetireScreen(ConfirmScreen):
    BINDINGS: ClassVar[list[BindingType]] = answer_bindings("retire", "Retire")

    def __init__(self, view: MigrationView, service: str) -> None:
        super().__init__(id="confirm-retire", classes="dialog-screen")
        self.view = view
        self.service = service  # always named: the title says which service's colour stops

    def compose(self) -> ComposeResult:
        view = self.view
        with Vertical(classes="dialog"):
            yield Label(retire_title(view, self.service), id="retire-title", classes="title")
            yield Label(
                f"{view.old} is stopped now; its sessions move to {view.new}, and a rollback to "
                f"{view.old} is no longer instant after.",
                id="retire-detail",
                classes="detail",
            )
            yield answer_buttons("Cancel", Button("Retire", id="confirm", variant="error"))
