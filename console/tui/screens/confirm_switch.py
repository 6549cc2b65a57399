"""`S`: "Switch blue → green (v2)?" with the gate; Cancel is focused, y/n/esc answer.

When the gate is not met the dialog says why, and only typing the target colour's name enables
Force — a deliberate act, not a reflex on `y`. The result is True to switch; the caller forces
exactly when the plan's gate is not met.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from console.core.measures.parity import report_lines
from console.core.model import SwitchPlan
from console.tui.screens.confirm import (
    ConfirmScreen,
    answer_bindings,
    answer_buttons,
    for_service,
)
from console.tui.widgets.gate import gate_content


def switch_title(plan: SwitchPlan) -> str:
    source = plan.from_color or "nothing"
    version = plan.to_version or plan.to_image or "unknown version"
    return f"Switch {source} → {plan.to_color} ({version})?"


class ConfirmSwitchScreen(ConfirmScreen):
    BINDINGS: ClassVar[list[BindingType]] = answer_bindings("switch", "Switch")
    # A disabled Force never posts Pressed, so a press of "force" means it was armed.
    CONFIRM_BUTTONS: ClassVar[frozenset[str]] = frozenset({"confirm", "force"})

    def __init__(self, plan: SwitchPlan, service: str | None = None) -> None:
        super().__init__(id="confirm-switch", classes="dialog-screen")
        self.plan = plan
        self.service = service

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog"):
            title = for_service(switch_title(plan), self.service)
            yield Label(title, id="switch-title", classes="title")
            yield Static(gate_content(plan.conditions, inline=False), id="switch-gate")
            if plan.parity is not None:  # plain text: values come from the colours' data
                lines = [*report_lines(plan.parity, time.time()), "(compared again at the switch)"]
                yield Static(Content("\n".join(lines)), id="switch-parity")
            if plan.blocked_reason:
                yield Label(Content.styled(plan.blocked_reason, "bold $error"), classes="detail")
            elif not plan.gate_met:
                yield Label(
                    Content.styled(
                        f"{plan.to_color} is not ready: the gate above is not met. To switch "
                        f"anyway, type '{plan.to_color}' and press Force.",
                        "bold $warning",
                    ),
                    classes="detail",
                )
                yield Input(placeholder=f"type {plan.to_color} to force", id="force-input")
            yield answer_buttons("Cancel", *self.answers())

    def answers(self) -> tuple[Button, ...]:
        """Switch when the gate holds, an unarmed Force when it does not, nothing when blocked."""
        if self.plan.blocked_reason:
            return ()
        if self.plan.gate_met:
            return (Button("Switch", id="confirm", variant="primary"),)
        return (Button("Force", id="force", variant="error", disabled=True),)

    @on(Input.Changed, "#force-input")
    def arm_force(self, event: Input.Changed) -> None:
        typed = event.value.strip().lower() == self.plan.to_color
        self.query_one("#force", Button).disabled = not typed

    def confirm_allowed(self) -> bool:
        # `y` only when a plain confirm is allowed: forcing takes the typed colour and Force.
        return self.plan.gate_met and not self.plan.blocked_reason
