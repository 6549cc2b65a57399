"""The two colours, the one word every layer shares: a leaf that imports nothing of the project, so
any module (the measures as much as the model) can name a colour without an import circle."""

from __future__ import annotations

from typing import Literal

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other(color: Color) -> Color:
    """The opposite colour: the idle one when `color` is live."""
    return "green" if color == "blue" else "blue"


def parse_color(text: str) -> Color:
    """Validate an operator-typed colour; raise ValueError with a sentence otherwise."""
    value = text.strip().lower()
    if value == "blue":
        return "blue"
    if value == "green":
        return "green"
    raise ValueError(f"'{text}' is not a colour: use 'blue' or 'green'.")
