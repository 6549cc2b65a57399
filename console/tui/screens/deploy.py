"""`D`: choose an image (recent ones offered), env overrides and the switch policy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, OptionList, RadioButton, RadioSet, TextArea

from console.core.model import Color, SwitchPolicy
from console.tui.screens.confirm import for_service

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class DeployRequest:
    image: str
    env: dict[str, str] = field(default_factory=dict)
    policy: SwitchPolicy = SwitchPolicy.CONFIRM


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments ignored); ValueError names the bad line."""
    env: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not _ENV_NAME.fullmatch(name.strip()):
            raise ValueError(
                f"Env line {number} is not KEY=VALUE: "
                "write one variable per line, e.g. RUST_LOG=info."
            )
        env[name.strip()] = value
    return env


class DeployScreen(ModalScreen[DeployRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="deploy.cancel"),
        Binding("ctrl+s", "submit", "Deploy", id="deploy.submit"),
    ]

    def __init__(
        self,
        recent_images: list[str],
        policy: SwitchPolicy,
        target: Color | None,
        service: str | None = None,
    ) -> None:
        super().__init__(id="deploy", classes="dialog-screen")
        self.service = service
        self.recent_images = recent_images
        self.policy = policy
        self.target = target

    def compose(self) -> ComposeResult:
        where = f" to {self.target}" if self.target else ""
        with Vertical(classes="dialog"):
            title = for_service(f"Deploy a new image{where}", self.service)
            yield Label(title, id="deploy-title", classes="title")
            yield Input(
                placeholder="image or tag, e.g. explorer:v2",
                suggester=SuggestFromList(self.recent_images, case_sensitive=True),
                id="deploy-image",
            )
            if self.recent_images:
                yield Label("Recently deployed (enter picks one):", classes="detail")
                yield OptionList(*self.recent_images, id="deploy-recent")
            yield Label("Environment overrides, one KEY=VALUE per line:", classes="detail")
            yield TextArea(id="deploy-env", soft_wrap=False)
            yield Label("When it is ready:", classes="detail")
            with RadioSet(id="deploy-policy"):
                for policy in SwitchPolicy:
                    yield RadioButton(
                        policy.value, value=policy == self.policy, id=f"policy-{policy.value}"
                    )
            yield Label("", id="deploy-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Deploy", id="confirm", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#deploy-error").display = False
        self.query_one("#deploy-image", Input).focus()

    @on(OptionList.OptionSelected, "#deploy-recent")
    def pick_recent(self, event: OptionList.OptionSelected) -> None:
        image_input = self.query_one("#deploy-image", Input)
        image_input.value = str(event.option.prompt)
        image_input.focus()

    @on(Input.Submitted, "#deploy-image")
    def submit_from_input(self) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        image = self.query_one("#deploy-image", Input).value.strip()
        if not image:
            self._error("Type an image (or pick a recent one) to deploy.")
            return
        try:
            env = parse_env(self.query_one("#deploy-env", TextArea).text)
        except ValueError as exc:
            self._error(str(exc))
            return
        pressed = self.query_one("#deploy-policy", RadioSet).pressed_button
        policy = (
            SwitchPolicy((pressed.id or "").removeprefix("policy-")) if pressed else self.policy
        )
        self.dismiss(DeployRequest(image=image, env=env, policy=policy))

    def _error(self, text: str) -> None:
        error = self.query_one("#deploy-error", Label)
        error.update(text)
        error.display = True
