"""The one registry of operator actions: it feeds the footer, the `?` help screen and the palette.

Mutating actions are kept apart so a read-only console never binds them at all (k9s-style),
instead of binding and then refusing. With several services the overview binds its own keys
(`FLEET_ACTIONS`) plus the mutating ones, which act on the selected row; a service's screen adds
esc to go back to the overview.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
        "V",
        "rollback_to",
        "Roll back to",
        "Roll back to a retained older version: deploy it, let it catch up, switch (asks first).",
        True,
        footer=False,
    ),
    ActionSpec(
        "C",
        "canary",
        "Canary",
        "Send a sticky share of clients to the idle colour; promote or abort it.",
        True,
        footer=False,  # the footer fits 80 columns; `?` and the palette list it
    ),
    ActionSpec(
        "X",
        "retire_sessions",
        "Retire",
        "End a session-kept switch: stop the old colour now, whatever sessions are still on it "
        "(asks, naming them). Offered only while such a switch runs.",
        True,
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

# The overview's own keys (screen actions: `open_service`, `cycle_sort`, `filter`).
FLEET_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("enter", "open_service", "Open", "Open the selected service's blue/green screen."),
    ActionSpec("s", "cycle_sort", "Sort", "Sort by the next column (name, live, idle, …)."),
    ActionSpec(
        "slash",
        "filter",
        "Filter",
        "Show only the services whose row contains a text.",
        key_display="/",
    ),
)
_VIEW_ALWAYS = ("help", "quit")
BACK = ActionSpec(
    "escape", "overview", "Fleet", "Back to the overview of every service.", key_display="esc"
)


def available(read_only: bool) -> tuple[ActionSpec, ...]:
    return tuple(spec for spec in ACTIONS if not (read_only and spec.mutates))


def fleet_available(read_only: bool) -> tuple[ActionSpec, ...]:
    """The overview's keys: its own, the mutating ones (on the selected service), help and quit."""
    kept = tuple(s for s in available(read_only) if s.mutates or s.action in _VIEW_ALWAYS)
    return FLEET_ACTIONS + kept


def service_available(read_only: bool, in_fleet: bool) -> tuple[ActionSpec, ...]:
    """A service screen's keys; esc back to the overview when there is one."""
    return (BACK, *available(read_only)) if in_fleet else available(read_only)


def _binding(spec: ActionSpec, namespace: str) -> Binding:
    return Binding(
        spec.key,
        f"{namespace}.{spec.action}",
        spec.label,
        tooltip=spec.tooltip,
        id=f"bluegreen.{spec.action.split('(')[0]}.{spec.key}",
        key_display=spec.key_display,
        show=spec.footer,
    )


# Left out of the footer on a service opened from the overview, so that esc fits in 80 columns.
_FOOTER_MAKES_ROOM = ("toggle_wrap",)


def bindings(read_only: bool, in_fleet: bool = False) -> list[Binding]:
    return [
        _binding(
            replace(spec, footer=False) if in_fleet and spec.action in _FOOTER_MAKES_ROOM else spec,
            "app",
        )
        for spec in service_available(read_only, in_fleet)
    ]


def fleet_bindings(read_only: bool) -> list[Binding]:
    own = {spec.action for spec in FLEET_ACTIONS}
    keys = [
        _binding(spec, "screen" if spec.action in own else "app")
        for spec in fleet_available(read_only)
    ]
    return [*keys, Binding("escape", "screen.clear_filter", "Clear filter", show=False)]
