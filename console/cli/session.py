"""What the commands that open a console share: the config they load, the console they open, the
question they ask before acting, and how an operation's events are printed.

Its own module so that `commands` and the commands kept apart (`canary`, `parity`) import it
alike, and none of them imports another.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from console import wiring
from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK, silence_stdout
from console.core.config import fleet
from console.core.config.fleet import Fleet
from console.core.config.load import ConfigError
from console.core.config.schema import Config
from console.core.model import OperationEvent, Outcome
from console.core.ops.operation import OperationRefused, ReadOnlyError
from console.core.service import Console


def load_fleet(args: argparse.Namespace, watching: bool = False) -> Fleet:
    """Every service the configuration (a file, or a directory of several) describes."""
    try:  # watching: a read-only command, which needs no secret (see SecretResolver)
        return fleet.load_fleet(args.config, watching)
    except ConfigError:
        if args.config:
            raise
        from console.sandbox.world import sandbox_config_path

        sandbox = sandbox_config_path()
        if sandbox is None:
            raise
        return fleet.load_fleet(str(sandbox), watching)


def load(args: argparse.Namespace, watching: bool = False) -> Config:
    """The one service this command is about: `--service NAME`, or the only one configured
    (several and no name: a ConfigError listing them, exit 2)."""
    return load_fleet(args, watching).service(args.service)


def about(args: argparse.Namespace, watching: bool = True) -> Fleet | Config:
    """What a command that can show every service (status, history, config check) is about: the
    whole fleet when no `--service` is given and several are configured, else the one service.
    One read of the configuration serves both."""
    found = load_fleet(args, watching)
    if not args.service and len(found.services) + len(found.skipped) > 1:
        return found
    return found.service(args.service)


def open_console(args: argparse.Namespace, read_only: bool = False) -> Console:
    read_only = read_only or args.read_only
    return wiring.open_console(load(args, watching=read_only), read_only=read_only)


@contextmanager
def acting_console(args: argparse.Namespace, action: str) -> Iterator[Console]:
    """A console for a mutating command, closed at the end. A read-only one says so first, not
    whatever the plan would have refused."""
    console = open_console(args)
    try:
        if console.read_only:
            raise ReadOnlyError(action)
        yield console
    finally:
        console.close()


def refused(what: str, reason: str) -> int:
    """'Switch refused: <why>.' on stderr, and the exit code of a refused operation."""
    render.error(f"{what} refused: {reason}")
    return EXIT_FAILED


def confirm(question: str, yes: bool) -> bool:
    """True when the operator said yes (or passed --yes); a question nobody can answer refuses."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise OperationRefused(
            f"{question} needs confirmation: run it in a terminal, or pass --yes."
        )
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run_events(
    console: Console, events: Iterator[OperationEvent], as_json: bool = False
) -> Outcome | None:
    """Print an operation's progress as it happens; return its Outcome.

    A reader that goes away (`bluegreen switch --yes | head -1`) must not stop the operation:
    the generator would be closed between two of its steps, half done. So the rest runs to its
    end unprinted, and only then does the broken pipe end the command (exit 141, like git)."""
    outcome: Outcome | None = None
    redact = console.installation.redactor.redact
    reader_gone = False
    for event in events:
        if isinstance(event, Outcome):
            outcome = event
        if reader_gone:
            continue
        try:
            if as_json:
                print(json.dumps(render.event_json(event, redact)), flush=True)
            else:
                render.print_event(event, redact)
        except BrokenPipeError:
            reader_gone = True
            silence_stdout()
    if reader_gone:
        raise BrokenPipeError("the reader of the output went away")
    return outcome


def ask_then_run(
    console: Console,
    question: str,
    yes: bool,
    begin: Callable[[], Iterator[OperationEvent]],
    declined: str,
) -> int:
    """Ask; on yes run the operation and exit 0 only if it succeeded. `declined` is said on no."""
    if not confirm(question, yes):
        render.say(declined)
        return EXIT_FAILED
    outcome = run_events(console, begin())
    return EXIT_OK if outcome and outcome.ok else EXIT_FAILED
