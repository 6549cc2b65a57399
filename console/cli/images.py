"""`bluegreen rollback --to VERSION` and `bluegreen prune [--dry-run]`: named rollback to a
retained image, and image retention on demand (`[image] keep`).

A named rollback asks once (naming the service, the version and the colours), then deploys the
retained image into the idle colour, waits while it catches up — the deploy-and-wait path of
`deploy --wait`, one line per 5 % or 30 s with the ETA — and switches through the normal gate.
Ctrl-C or `--timeout` stop the waiting, never the catch-up: the same command again resumes it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import Any

from console.cli import render
from console.cli.deploy_wait import wait_for
from console.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from console.cli.session import (
    acting_console,
    ask_then_run,
    confirm,
    load,
    open_console,
    refused,
    run_events,
)
from console.core.access import require_write
from console.core.actor import current_actor
from console.core.model import SlotState
from console.core.ops.agent_process import ensure_agent
from console.core.ops.named_rollback import (
    NamedRollbackPlan,
    deploy_for_rollback,
    plan_named_rollback,
    rollback_instant,
    switch_for_rollback,
)
from console.core.ops.retention import prune as prune_op
from console.core.service import Console


def add_parser(sub: Any, command_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """`prune`, and `--to`/`--timeout`/`--force` on the `rollback` the parser already has."""
    rollback: argparse.ArgumentParser = sub.choices["rollback"]
    rollback.add_argument(
        "--to",
        metavar="VERSION",
        help="roll back to this retained version (a TAG of [image] repository): deploy it into "
        "the idle colour, wait until it has caught up, then switch through the gate",
    )
    rollback.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --to: stop waiting after this long (the catch-up goes on; 0 = no limit)",
    )
    rollback.add_argument(
        "--force",
        action="store_true",
        help="with --to: switch even if the gate is not met (audited)",
    )
    prune = command_parser(
        sub, "prune", "remove the service's images older than the newest [image] keep"
    )
    prune.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be removed (with sizes); change nothing",
    )
    prune.add_argument(
        "--keep", type=int, metavar="N", help="keep the newest N (default: [image] keep)"
    )
    prune.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def rollback_to(args: argparse.Namespace) -> int:
    """`rollback --to VERSION`: instant when the previous colour runs it, else deploy, wait and
    switch."""
    with acting_console(args, "rollback") as console:
        inst = console.installation
        plan = plan_named_rollback(inst, args.to)
        if plan.blocked_reason:
            return refused("Rollback", plan.blocked_reason)
        actor = current_actor()
        if plan.instant:
            begin = partial(rollback_instant, inst, actor, plan)
            return ask_then_run(console, plan.question(), args.yes, begin, "Not rolled back.")
        if not confirm(plan.question(), args.yes):
            render.say("Not rolled back.")
            return EXIT_FAILED
        deployment_id = plan.resume_deployment
        if deployment_id is None:
            outcome = run_events(console, deploy_for_rollback(inst, actor, plan))
            if outcome is None or not outcome.ok:
                return EXIT_FAILED
            deployment_id = inst.store.deployments(limit=1)[0].id
            _agent_watches(console)
        return _wait_then_switch(console, args, plan, deployment_id)


def _agent_watches(console: Console) -> None:
    """The agent judges the gate; start it (as `deploy` does) if none runs."""
    try:
        started, pid = ensure_agent(console.installation)
    except RuntimeError as exc:
        render.error(str(exc))
        return
    if started:
        render.say(f"Started the agent (pid {pid}); it keeps watching if you disconnect.")


def _wait_then_switch(
    console: Console, args: argparse.Namespace, plan: NamedRollbackPlan, deployment_id: int
) -> int:
    color = str(plan.to_color)
    again = f"`bluegreen rollback --to {plan.version}` again resumes it"
    render.say(
        f"{plan.service}: {color} catches up on {plan.version} before the switch (the gate "
        f"decides; ETA on each line). Ctrl-C stops the waiting, not the catch-up: {again}."
    )
    try:
        code = wait_for(
            console, color, deployment_id, {SlotState.READY, SlotState.LIVE}, args.timeout, False
        )
    except KeyboardInterrupt:
        render.error(f"Stopped waiting; {color} keeps catching up on {plan.version}: {again}.")
        return EXIT_FAILED
    if code != EXIT_OK:
        return code
    slot = console.status().slots[plan.to_color]  # type: ignore[index]
    if slot.state == SlotState.LIVE:
        render.say(f"{color} is already live with {plan.version}: nothing to switch.")
        return EXIT_OK
    events = switch_for_rollback(
        console.installation, current_actor(), plan, deployment_id, force=args.force
    )
    outcome = run_events(console, events)
    return EXIT_OK if outcome and outcome.ok else EXIT_FAILED


def prune(args: argparse.Namespace) -> int:
    """`prune [--dry-run] [--keep N]`: what goes (with sizes) and why the rest stays."""
    if args.keep is not None and args.keep < 1:
        render.error("--keep needs 1 or more (0 would remove every image not in use).")
        return EXIT_USAGE
    if args.dry_run:
        console = open_console(args, read_only=True)
        try:
            outcome = run_events(
                console, prune_op(console.installation, current_actor(), args.keep, dry_run=True)
            )
        finally:
            console.close()
        return EXIT_OK if outcome and outcome.ok else EXIT_FAILED
    if not args.read_only:
        require_write(load(args, watching=True), "prune")
    with acting_console(args, "prune") as console:
        inst = console.installation
        keep = inst.config.image.keep if args.keep is None else args.keep
        begin = partial(prune_op, inst, current_actor(), args.keep)
        if keep <= 0:  # every image is kept: the operation says so, nothing to ask
            outcome = run_events(console, begin())
            return EXIT_OK if outcome and outcome.ok else EXIT_FAILED
        question = (
            f"Remove {inst.config.service}'s images older than the newest {keep} "
            "(never the colours' or those in use)?"
        )
        return ask_then_run(console, question, args.yes, begin, "Nothing removed.")
