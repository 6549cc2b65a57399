"""The one registry of operator actions: it feeds the footer, the `?` help screen and the palette.

Mutating actions are kept apart so a read-only console never binds them at all (k9s-style),
instead of binding and then refusing.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class ActionSpec:
    key: str
    action: str  # the App's action name (action_<name>)
    label: str  # footer / palette text
    tooltip: str  # help screen and footer tooltip
    mutates: bool = False
    key_display: str | None = None
    footer: bool = True  # 1/2 are left out of the footer so it fits 80 columns; `l` covers them


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("D", "deploy", "Deploy", "Start a new image in the idle colour.", mutates=True),
    ActionSpec("S", "switch", "Switch", "Send traffic to the other colour (asks first).", True),
    ActionSpec("R", "rollback", "Roll back", "Send traffic back to the previous colour.", True),
    ActionSpec(
        "C",
        "canary",
        "Canary",
        "Send a sticky share of clients to the idle colour; promote or abort it.",
        True,
        footer=False,  # the footer fits 80 columns; `?` and the palette list it
    ),
    ActionSpec("l", "toggle_log_color", "Logs", "Show the other colour's logs."),
    ActionSpec("1", "show_logs('blue')", "Blue logs", "Show blue's container logs.", footer=False),
    ActionSpec(
        "2", "show_logs('green')", "Green logs", "Show green's container logs.", footer=False
    ),
    ActionSpec("f", "toggle_follow", "Follow", "Follow new log lines, or stop to read."),
    ActionSpec("w", "toggle_wrap", "Wrap", "Wrap long log lines."),
    ActionSpec("p", "toggle_pause", "Pause", "Freeze the display; data keeps being polled."),
    ActionSpec("question_mark", "help", "Help", "List every key.", key_display="?"),
    ActionSpec("q", "quit", "Quit", "Leave the console (asks while an action runs)."),
)

MUTATING_ACTIONS = frozenset(spec.action for spec in ACTIONS if spec.mutates)


def available(read_only: bool) -> tuple[ActionSpec, ...]:
    return tuple(spec for spec in ACTIONS if not (read_only and spec.mutates))


def bindings(read_only: bool) -> list[Binding]:
    return [
        Binding(
            spec.key,
            f"app.{spec.action}",
            spec.label,
            tooltip=spec.tooltip,
            id=f"bluegreen.{spec.action.split('(')[0]}.{spec.key}",
            key_display=spec.key_display,
            show=spec.footer,
        )
        for spec in available(read_only)
    ]
