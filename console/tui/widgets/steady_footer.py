"""Textual's footer, rebuilt only when the keys it shows change.

Textual's `Footer` removes and mounts all its key widgets again on every bindings signal: each
screen pushed or popped, each focus change. The keys are the same almost every time, and the
rebuild (a dozen widgets mounted and styled) was the largest cost of the overview's first frame
after esc, landing on the operator's next key press. This one compares what it would show with
what it shows and rebuilds only when they differ.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class SteadyFooter(Footer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown_keys: tuple[tuple[object, ...], ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)  # only notes that the bindings are ready
            return
        keys = tuple(
            (binding.key, binding.action, binding.description, binding.group, enabled, tooltip)
            for _, binding, enabled, tooltip in screen.active_bindings.values()
            if binding.show
        )
        if keys != self._shown_keys:
            self._shown_keys = keys
            super().bindings_changed(screen)
        else:
            self._bindings_ready = True
