"""`C`: "Canary: send 10 % of clients to green (v2)?" — set a share, promote or abort.

Cancel is focused; the share is typed (1-99). Start is offered only when the idle colour's gate
holds (the CLI's `canary N --force` is the deliberate way past it); Promote (the full switch,
through the same gate) and Abort (everyone back on the live colour) only while a canary runs.
The result is a `CanaryChoice`, or None for cancel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.core.model import Canary, OperationEvent, SwitchPlan
from console.core.ops.canary import percent_problem
from console.tui.screens.confirm import for_service
from console.tui.widgets.gate import gate_content

if TYPE_CHECKING:
    from console.core.service import Console

DEFAULT_PERCENT = 10


@dataclass(frozen=True, slots=True)
class CanaryChoice:
    action: Literal["set", "promote", "abort"]
    percent: int = 0


def canary_title(plan: SwitchPlan, current: Canary | None) -> str:
    version = plan.to_version or plan.to_image or "unknown version"
    now = f" — now {current.describe()}" if current else ""
    return f"Canary: clients to {plan.to_color} ({version}), {plan.from_color} live{now}"


class CanaryScreen(ModalScreen[CanaryChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="canary.no"),
    ]

    def __init__(
        self, plan: SwitchPlan, current: Canary | None, service: str | None = None
    ) -> None:
        super().__init__(id="canary", classes="dialog-screen")
        self.plan = plan
        self.current = current
        self.service = service

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog"):
            title = for_service(canary_title(plan, self.current), self.service)
            yield Label(title, id="canary-title", classes="title")
            yield Static(gate_content(plan.conditions, inline=False), id="canary-gate")
            refusal = plan.blocked_reason
            if plan.from_color is None:
                refusal = "Nothing is live yet: there is no traffic to share."
            elif not refusal and not plan.gate_met:
                refusal = (
                    f"{plan.to_color} is not ready: the gate above is not met, so no share of "
                    f"clients goes there (`bluegreen canary N --force` from the CLI overrides)."
                )
            if refusal:
                yield Label(Content.styled(refusal, "bold $warning"), classes="detail")
            percent = self.current.percent if self.current else DEFAULT_PERCENT
            yield Input(
                str(percent),
                placeholder="share of clients, 1-99",
                id="canary-percent",
                type="integer",
                disabled=bool(refusal),
            )
            yield Label("", id="canary-problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                if self.current is not None:
                    yield Button("Abort", id="abort", variant="warning")
                    yield Button("Promote", id="promote", variant="success", disabled=bool(refusal))
                yield Button("Set share", id="set", variant="primary", disabled=bool(refusal))

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self.query_one("#canary-problem", Label).display = False

    def _percent(self) -> int | None:
        text = self.query_one("#canary-percent", Input).value.strip()
        problem = "give a share of clients, 1-99" if not text.isdigit() else None
        problem = problem or percent_problem(int(text))
        label = self.query_one("#canary-problem", Label)
        label.update(problem or "")
        label.display = problem is not None
        return None if problem else int(text)

    @on(Input.Submitted, "#canary-percent")
    def submitted(self) -> None:
        percent = self._percent()
        if percent is not None:
            self.dismiss(CanaryChoice("set", percent))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "set":
            percent = self._percent()
            if percent is not None:
                self.dismiss(CanaryChoice("set", percent))
        elif event.button.id in ("promote", "abort"):
            self.dismiss(CanaryChoice("promote" if event.button.id == "promote" else "abort"))
        else:
            self.dismiss(None)


def operation(backend: Console, choice: CanaryChoice) -> Callable[[], Iterator[OperationEvent]]:
    """What the app runs for the choice, in its operation worker."""
    if choice.action == "abort":
        return backend.canary_abort
    if choice.action == "promote":
        return backend.canary_promote
    return lambda: backend.canary(choice.percent)
