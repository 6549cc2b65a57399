"""`R`: "Roll back green → blue (v1)?" with the previous colour's state and lag."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Label

from console.core.model import RollbackPlan
from console.tui.format import number
from console.tui.screens.confirm import (
    ConfirmScreen,
    answer_bindings,
    answer_buttons,
    for_service,
)


def rollback_title(plan: RollbackPlan) -> str:
    if plan.to_color is None:
        return "Nothing to roll back to."
    version = f" ({plan.to_version})" if plan.to_version else ""
    return f"Roll back {plan.from_color or 'nothing'} → {plan.to_color}{version}?"


class ConfirmRollbackScreen(ConfirmScreen):
    BINDINGS: ClassVar[list[BindingType]] = answer_bindings("rollback", "Roll back")

    def __init__(self, plan: RollbackPlan, service: str | None = None) -> None:
        super().__init__(id="confirm-rollback", classes="dialog-screen")
        self.plan = plan
        self.service = service

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog"):
            title = for_service(rollback_title(plan), self.service)
            yield Label(title, id="rollback-title", classes="title")
            state = plan.to_state.value if plan.to_state else "unknown"
            yield Label(
                f"{plan.to_color or 'previous colour'}: {state}, lag {number(plan.lag)} blocks",
                id="rollback-state",
                classes="detail",
            )
            warning = plan.warning or (
                f"{plan.to_color} is behind the live colour: clients will see the head go back."
                if plan.behind_live
                else None
            )
            if warning:
                yield Label(Content.styled(f"⚠ {warning}", "bold $warning"), id="rollback-warning")
            if plan.blocked_reason:
                yield Label(Content.styled(plan.blocked_reason, "bold $error"), classes="detail")
            yield answer_buttons("Cancel", *self.answers())

    def answers(self) -> tuple[Button, ...]:
        """Roll back, unless blocked: then the dialog only says why."""
        if self.plan.blocked_reason:
            return ()
        return (Button("Roll back", id="confirm", variant="warning"),)

    def confirm_allowed(self) -> bool:
        return not self.plan.blocked_reason
