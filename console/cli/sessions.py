"""`bluegreen sessions [status|retire]` and the sessions lines of `status` ([sessions], 26.1).

`switch --keep-sessions` keeps clients in a session on the old colour (parser row on `switch`);
`sessions` shows the migration (sessions on each colour, a bar); `sessions retire` stops the old
colour after a confirmation that names how many sessions are still on it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from console.cli.exits import EXIT_OK
from console.cli.render_sessions import view_json
from console.cli.session import acting_console, ask_then_run, open_console, refused


def add_parser(sub: Any, command_parser: Callable[..., argparse.ArgumentParser]) -> None:
    sessions = command_parser(
        sub,
        "sessions",
        "a session-kept switch: sessions on each colour (status), or retire the old colour",
        json_output=True,
    )
    sessions.add_argument(
        "action",
        nargs="?",
        default="status",
        choices=["status", "retire"],
        help="status (the default): sessions on each colour; retire: stop the old colour now",
    )
    sessions.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def add_switch_options(switch: argparse.ArgumentParser) -> None:
    """`switch --keep-sessions | --all-sessions` (the default is [sessions] keep)."""
    group = switch.add_mutually_exclusive_group()
    group.add_argument(
        "--keep-sessions",
        action="store_true",
        default=None,
        help="clients in a session stay on the live colour until it ends ([sessions])",
    )
    group.add_argument(
        "--all-sessions",
        dest="keep_sessions",
        action="store_false",
        help="move every client now, even with [sessions] keep = true",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "retire":
        return _retire(args)
    console = open_console(args, read_only=True)
    try:
        view = console.sessions()
    finally:
        console.close()
    if args.json:
        print(json.dumps(view_json(view), indent=2))
    elif view is None:
        print("No session-kept switch is in progress.")
    else:
        print(view.summary(time.time()))
    return EXIT_OK


def _retire(args: argparse.Namespace) -> int:
    with acting_console(args, "sessions retire") as console:
        view = console.sessions()
        if view is None:
            return refused("Retire", "no session-kept switch is in progress.")
        left = "an uncounted number of" if view.on_old is None else str(view.on_old)
        question = (
            f"Stop {view.old} ({console.config.service}) with {left} session"
            f"{'' if view.on_old == 1 else 's'} still on it? Rollback is no longer instant after."
        )
        return ask_then_run(console, question, args.yes, console.sessions_retire, "Not retired.")
