"""`bluegreen canary PERCENT | promote | abort`: a sticky share of clients on the idle colour.

`canary 10` asks first (it names the colour, version and share; `--yes` skips), `promote` is the
full switch through the gate (asks like `switch`), `abort` sends everyone back at once, without a
question: it is the safe direction.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from console.cli.session import acting_console, ask_then_run, refused, run_events
from console.core.model import OperationEvent
from console.core.ops.canary import percent_problem

USAGE = "PERCENT|promote|abort"


def add_parser(sub: Any, command_parser: Callable[..., argparse.ArgumentParser]) -> None:
    canary = command_parser(
        sub,
        "canary",
        "send a sticky share of clients to the idle colour (PERCENT), then promote or abort",
    )
    canary.add_argument(
        "action",
        metavar=USAGE,
        help="1-99: that share of clients (sticky per client) to the idle colour; promote: the "
        "full switch through the gate; abort: everyone back on the live colour",
    )
    canary.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    canary.add_argument(
        "--force", action="store_true", help="even if the idle colour's gate is not met (audited)"
    )


def run(args: argparse.Namespace) -> int:
    action = str(args.action).strip().lower().rstrip("%")
    if action not in ("promote", "abort") and not action.isdigit():
        render.error(f"`canary {args.action}`: give a share ({USAGE}), e.g. `bluegreen canary 10`.")
        return EXIT_USAGE
    problem = percent_problem(int(action)) if action.isdigit() else None
    if problem:
        render.error(problem)
        return EXIT_USAGE
    with acting_console(args, f"canary {action}") as console:
        if action == "abort":
            outcome = run_events(console, console.canary_abort())
            return EXIT_OK if outcome and outcome.ok else EXIT_FAILED
        plan = console.plan_switch()
        if plan.from_color is None and action != "promote":
            return refused("Canary", "nothing is live yet, so there is no traffic to share.")
        if plan.blocked_reason:
            return refused("Canary", plan.blocked_reason)
        version = f" ({plan.to_version})" if plan.to_version else ""
        begin: Callable[[], Iterator[OperationEvent]]
        if action == "promote":
            current = console.status().canary
            share = f" ({current.describe()})" if current else ""
            question = (
                f"Promote the canary{share}: switch {plan.from_color or 'none'} → "
                f"{plan.to_color}{version}?"
            )
            begin = partial(console.canary_promote, force=args.force)
        else:
            percent = int(action)
            question = (
                f"Send {percent} % of clients to {plan.to_color}{version}, sticky per client "
                f"({plan.from_color or 'nothing'} keeps the rest)?"
            )
            begin = partial(console.canary, percent, force=args.force)
        if not args.yes:
            render.print_conditions(plan.conditions)
        return ask_then_run(console, question, args.yes, begin, "Nothing changed.")
