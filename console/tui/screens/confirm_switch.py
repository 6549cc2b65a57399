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
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.core.measures.parity import report_lines
from console.core.model import SwitchPlan
from console.tui.widgets.gate import gate_content


def switch_title(plan: SwitchPlan) -> str:
    source = plan.from_color or "nothing"
    version = plan.to_version or plan.to_image or "unknown version"
    return f"Switch {source} → {plan.to_color} ({version})?"


class ConfirmSwitchScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Switch", id="switch.yes"),
        Binding("n,escape", "cancel", "Cancel", id="switch.no"),
    ]

    def __init__(self, plan: SwitchPlan) -> None:
        super().__init__(id="confirm-switch", classes="dialog-screen")
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog"):
            yield Label(switch_title(plan), id="switch-title", classes="title")
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
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                if plan.blocked_reason:
                    pass
                elif plan.gate_met:
                    yield Button("Switch", id="confirm", variant="primary")
                else:
                    yield Button("Force", id="force", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Input.Changed, "#force-input")
    def arm_force(self, event: Input.Changed) -> None:
        typed = event.value.strip().lower() == self.plan.to_color
        self.query_one("#force", Button).disabled = not typed

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":  # `y` only when a plain confirm is allowed
            return self.plan.gate_met and not self.plan.blocked_reason
        return True

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        # A disabled Force never posts Pressed, so reaching here with "force" means it was armed.
        self.dismiss(event.button.id in ("confirm", "force"))
