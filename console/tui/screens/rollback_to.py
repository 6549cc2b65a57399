"""`V`: roll back to a retained older version — pick it, then confirm what will happen.

The picker lists the service's images on this host, newest first (`[image] keep` decides how
many there are). The confirmation names the service, the version and the colours, and says
whether it is instant (the previous colour runs it) or deploys it into the idle colour, waits
while it catches up (the action line shows the progress and ETA) and then switches.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList

from console.core.ops.named_rollback import NamedRollbackPlan
from console.tui.screens.confirm import (
    ConfirmScreen,
    answer_bindings,
    answer_buttons,
    for_service,
)


class RollbackToScreen(ModalScreen[str | None]):
    """The retained versions; enter picks one, esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="rollback-to.cancel"),
    ]

    def __init__(self, versions: list[str], service: str | None = None) -> None:
        super().__init__(id="rollback-to", classes="dialog-screen")
        self.versions = versions
        self.service = service

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            title = for_service("Roll back to…", self.service)
            yield Label(title, id="rollback-to-title", classes="title")
            if self.versions:
                yield Label("Retained on this host, newest first (enter picks):", classes="detail")
                yield OptionList(*self.versions, id="rollback-to-versions")
            else:
                yield Label(
                    "No image of this service is retained on this host.",
                    id="rollback-to-none",
                    classes="detail",
                )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.versions:
            self.query_one("#rollback-to-versions", OptionList).focus()
        else:
            self.query_one("#cancel", Button).focus()

    @on(OptionList.OptionSelected, "#rollback-to-versions")
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.prompt))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmRollbackToScreen(ConfirmScreen):
    """ "web: Roll back web to v1: deploy …:v1 into green, wait until it has caught up, then
    switch blue → green?" — or only why it cannot."""

    BINDINGS: ClassVar[list[BindingType]] = answer_bindings("rollback-to", "Roll back")

    def __init__(self, plan: NamedRollbackPlan, service: str | None = None) -> None:
        super().__init__(id="confirm-rollback-to", classes="dialog-screen")
        self.plan = plan
        self.service = service

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog"):
            if plan.blocked_reason:
                title = f"Cannot roll back {plan.service} to {plan.version}."
            else:
                title = plan.question()
            yield Label(
                for_service(title, self.service), id="rollback-to-question", classes="title"
            )
            if plan.blocked_reason:
                yield Label(Content.styled(plan.blocked_reason, "bold $error"), classes="detail")
            elif not plan.instant:
                yield Label(
                    "The action line shows its catch-up and ETA; the switch goes through the "
                    "gate like any switch.",
                    classes="detail",
                )
            answers = (
                ()
                if plan.blocked_reason
                else (Button("Roll back", id="confirm", variant="warning"),)
            )
            yield answer_buttons("Cancel", *answers)

    def confirm_allowed(self) -> bool:
        return not self.plan.blocked_reason
