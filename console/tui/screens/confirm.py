"""The one yes/no dialog: it opens with Cancel focused, `y` confirms, `n`/esc cancel.

A confirmation names its target and its buttons; what it shares — the keys, the focus, the answer
— lives here once. A subclass composes its body, ends it with `answer_buttons(...)`, and says
when a plain `y` is allowed (`confirm_allowed`): a dialog that offers no plain confirm must not
confirm on `y` either.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button


def answer_bindings(name: str, yes: str, no: str = "Cancel") -> list[BindingType]:
    """`y` for yes and `n`/esc for no, with footer labels and ids such as `switch.yes`."""
    return [
        Binding("y", "confirm", yes, id=f"{name}.yes"),
        Binding("n,escape", "cancel", no, id=f"{name}.no"),
    ]


def for_service(title: str, service: str | None) -> str:
    """A dialog's title, naming the service when the console has several: "web: Switch …"."""
    return f"{service}: {title}" if service else title


def answer_buttons(cancel: str, *answers: Button) -> Horizontal:
    """The button row: Cancel (id `cancel`, focused on open), then the answers."""
    return Horizontal(Button(cancel, id="cancel"), *answers, classes="buttons")


class ConfirmScreen(ModalScreen[bool]):
    """Answers True for `y` or a button in `CONFIRM_BUTTONS`, False for `n`, esc or Cancel."""

    BINDINGS: ClassVar[list[BindingType]] = []
    # Buttons whose press means yes. A disabled button never posts Pressed.
    CONFIRM_BUTTONS: ClassVar[frozenset[str]] = frozenset({"confirm"})

    def confirm_allowed(self) -> bool:
        """Whether `y` answers yes now (False hides it from the footer as well)."""
        return True

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return self.confirm_allowed()
        return True

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id in self.CONFIRM_BUTTONS)
