"""`bluegreen freeze | unfreeze | maintenance on|off`: holds on a service's releases.

`freeze --message TEXT [--until TIME]` refuses deploy, switch and canary for everyone (rollback
stays open) until `unfreeze` or TIME; no question asked — it only ever stops things. `maintenance
on` asks first (every client gets the page; `--yes` skips), `off` does not: it is the way back.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from console.cli.exits import EXIT_FAILED, EXIT_OK
from console.cli.session import acting_console, ask_then_run, run_events
from console.core.holds import MAX_PAGE_BYTES, parse_until, read_page

COMMANDS = ("freeze", "unfreeze", "maintenance")


def add_parser(sub: Any, command_parser: Callable[..., argparse.ArgumentParser]) -> None:
    freeze = command_parser(
        sub, "freeze", "refuse deploy, switch and canary (not rollback) until unfrozen"
    )
    freeze.add_argument(
        "-m", "--message", required=True, help="why (shown to every operator and the agent)"
    )
    freeze.add_argument(
        "--until",
        metavar="TIME",
        help="lift by itself then: an ISO time (2026-12-08T09:00, host's local time unless it "
        "has Z or +01:00) or a duration from now (2h, 3d, 1d12h)",
    )
    command_parser(sub, "unfreeze", "lift the freeze: deploy, switch and canary may go on")
    maintenance = command_parser(
        sub, "maintenance", "answer every client with a 503 page (on) or route again (off)"
    )
    maintenance.add_argument("state", choices=["on", "off"], help="on: the page; off: route")
    page = maintenance.add_mutually_exclusive_group()
    page.add_argument("-m", "--message", help="the page's text (a small HTML page is made)")
    page.add_argument(
        "--page", metavar="FILE", help=f"your own HTML page (UTF-8, at most {MAX_PAGE_BYTES} bytes)"
    )
    maintenance.add_argument(
        "--retry-after", type=int, metavar="S", help="the Retry-After clients are told (seconds)"
    )
    maintenance.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def freeze(args: argparse.Namespace) -> int:
    until = parse_until(args.until, time.time()) if args.until else None  # before any lock
    with acting_console(args, "freeze") as console:
        outcome = run_events(console, console.freeze(args.message, until))
    return EXIT_OK if outcome and outcome.ok else EXIT_FAILED


def unfreeze(args: argparse.Namespace) -> int:
    with acting_console(args, "unfreeze") as console:
        outcome = run_events(console, console.unfreeze())
    return EXIT_OK if outcome and outcome.ok else EXIT_FAILED


def maintenance(args: argparse.Namespace) -> int:
    if args.state == "off":
        with acting_console(args, "maintenance off") as console:
            outcome = run_events(console, console.maintenance_off())
        return EXIT_OK if outcome and outcome.ok else EXIT_FAILED
    html = read_page(args.page) if args.page else None  # checked before anything changes
    with acting_console(args, "maintenance on") as console:
        what = f"the page {args.page}" if args.page else "a maintenance page"
        question = (
            f"Put {console.config.service} in maintenance: every client gets 503 with {what} "
            "until `bluegreen maintenance off`?"
        )
        begin = partial(
            console.maintenance_on, args.message, html, args.page or "", args.retry_after
        )
        return ask_then_run(console, question, args.yes, begin, "Nothing changed.")


HANDLERS = {"freeze": freeze, "unfreeze": unfreeze, "maintenance": maintenance}
