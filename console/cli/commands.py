"""The CLI's command handlers. Each returns an exit code; operator-facing failures are sentences."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from console import wiring
from console.cli import fleet_cmds, render, store_status
from console.cli.deploy_wait import wait_for
from console.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from console.cli.session import (
    about,
    acting_console,
    ask_then_run,
    load,
    load_fleet,
    open_console,
    refused,
    run_events,
)
from console.core.access import may_write_state, require_write
from console.core.config.coerce import ConfigError
from console.core.config.fleet import Fleet
from console.core.fsutil import StateDirError
from console.core.lock import LockHeld
from console.core.model import SlotState, SwitchPolicy
from console.core.ops.operation import OperationRefused
from console.core.service import Console

Handler = Callable[[argparse.Namespace], int]


def dispatch(args: argparse.Namespace) -> Handler:
    command = args.command or "ui"
    if command == "completion":
        from console.cli import completion
        from console.cli.parser import build_parser

        return partial(completion.run, parser=build_parser())
    if command == "parity":
        from console.cli import parity

        return _guarded(parity.run)
    if command == "canary":
        from console.cli import canary

        return _guarded(canary.run)
    if command in ("freeze", "unfreeze", "maintenance"):
        from console.cli import holds

        return _guarded(_acting(command, holds.HANDLERS[command]))
    if command == "prune":
        from console.cli import images

        return _guarded(images.prune)
    if command == "sessions":
        from console.cli import sessions

        return _guarded(sessions.run)
    if command == "sandbox":
        from console.cli import sandbox_cmd

        return sandbox_cmd.HANDLERS[args.sandbox_command]
    table: dict[str, Handler] = {
        "ui": lambda a: _tui(a, read_only=a.read_only or not _may_act(a)),
        "watch": lambda a: _web(a) if a.web else _tui(a, read_only=True),
        "status": _status,
        "services": fleet_cmds.services,
        "deploy": _acting("deploy", _deploy),
        "switch": _acting("switch", _switch),
        "rollback": _acting("rollback", _rollback),
        "history": _history,
        "logs": _logs,
        "agent": _agent,
        "reconcile": _acting("reconcile", _reconcile),
        "config": _config_check,
        "proxy": _proxy,
    }
    return _guarded(table[command])


def _guarded(handler: Handler) -> Handler:
    """Turn the failures an operator can meet into one paragraph and an exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (LockHeld, OperationRefused, StateDirError) as exc:
            render.error(str(exc))
            return EXIT_FAILED
        except ValueError as exc:  # validated operator input (image refs, K=V, colours)
            render.error(str(exc))
            return EXIT_USAGE

    return run


def _acting(action: str, handler: Handler) -> Handler:
    """A user who may only watch hears so first, in one sentence, before any plan is read."""

    def run(args: argparse.Namespace) -> int:
        if not args.read_only:
            require_write(load(args, watching=True), action)
        return handler(args)

    return run


def _may_act(args: argparse.Namespace) -> bool:
    """A watcher who opens the console gets the read-only one (READ-ONLY badge, no mutating keys)
    instead of failing on the secrets file only operators may read. Without --service, the
    host's state dir decides (a fleet's; a single file's own)."""
    found = load_fleet(args, watching=True)
    chosen = found.services.get(args.service or "")
    return may_write_state(chosen.state_dir if chosen else found.state_dir)


def _tui(args: argparse.Namespace, read_only: bool) -> int:
    """One service (the only one, or --service NAME) opens on its screen; several open on the
    overview, one console each, with the services whose files were skipped as rows of errors."""
    from console.tui.app import run_app

    read_only = read_only or args.read_only
    fleet = load_fleet(args, watching=read_only)
    name = args.service
    if name or (len(fleet.services) == 1 and not fleet.skipped):
        console = wiring.open_console(fleet.service(name), read_only=read_only)
        try:
            return run_app(console)
        finally:
            console.close()
    consoles: dict[str, Console] = {}
    skipped = dict(fleet.skipped)
    try:
        for service, config in fleet.services.items():
            try:
                consoles[service] = wiring.open_console(config, read_only=read_only)
            except (ConfigError, StateDirError, OSError) as exc:
                skipped[service] = f"Service {service}: cannot open its console: {exc}"
        if not consoles:
            problems = " ".join(skipped.values())
            raise ConfigError(f"No service in {fleet.path} could be opened. {problems}".strip())
        return run_app(consoles, skipped=skipped)
    finally:
        for console in consoles.values():
            console.close()


def _web(args: argparse.Namespace) -> int:
    from console.cli import web

    fleet = load_fleet(args, watching=False)  # loaded first: errors show here
    name = args.service
    if name:
        fleet.service(name)  # an unknown name is said now, not in every browser tab
    return web.run(args, str(Path(fleet.path).resolve()), name)


def _status(args: argparse.Namespace) -> int:
    target = about(args)
    if isinstance(target, Fleet):
        return fleet_cmds.status_all(args, target)
    console = wiring.open_console(target, read_only=True)
    return store_status.show_status(console, args.json)  # a shared store's last state, if down


def _deploy(args: argparse.Namespace) -> int:
    from console.core.ops.deploy import idle_color, parse_env_overrides

    env = parse_env_overrides(args.env)
    console = open_console(args)
    try:
        policy = SwitchPolicy(args.policy) if args.policy else None
        outcome = run_events(
            console, console.deploy(args.image, env, policy, image_tar=args.from_tar), args.json
        )
        if outcome is None or not outcome.ok:
            return EXIT_FAILED
        if not args.wait:
            return EXIT_OK
        # The colour deploy chose (after reconciling), from the deployment it just recorded.
        newest = console.installation.store.deployments(limit=1)
        deployment = newest[0] if newest else None
        color = deployment.color if deployment else idle_color(console.installation)
        wanted = (
            {SlotState.LIVE}
            if (deployment and deployment.policy == SwitchPolicy.AUTO)
            else {SlotState.READY, SlotState.LIVE}
        )
        return wait_for(
            console, color, deployment.id if deployment else None, wanted, args.timeout, args.json
        )
    finally:
        console.close()


def _switch(args: argparse.Namespace) -> int:
    with acting_console(args, "switch") as console:
        plan = console.plan_switch()
        if plan.blocked_reason:
            return refused("Switch", plan.blocked_reason)
        version = f" ({plan.to_version})" if plan.to_version else ""
        kept = console.kept_sessions_text(plan, args.keep_sessions)  # [sessions]
        kept = f", {kept}" if kept else ""
        question = f"Switch {plan.from_color or 'none'} → {plan.to_color}{version}{kept}?"
        if not args.yes:
            render.print_conditions(plan.conditions)
            render.print_switch_parity(plan, bool(console.config.parity))
        begin = partial(console.switch, force=args.force, keep_sessions=args.keep_sessions)
        return ask_then_run(console, question, args.yes, begin, "Not switched.")


def _rollback(args: argparse.Namespace) -> int:
    if args.to is not None:  # a named version: cli/images.py
        from console.cli import images

        return images.rollback_to(args)
    with acting_console(args, "rollback") as console:
        plan = console.plan_rollback()
        if plan.blocked_reason:
            return refused("Rollback", plan.blocked_reason)
        if plan.warning and not args.yes:
            render.say(f"Warning: {plan.warning}")
        question = f"Roll back {plan.from_color} → {plan.to_color} ({plan.to_version or '?'})?"
        return ask_then_run(console, question, args.yes, console.rollback, "Not rolled back.")


def _history(args: argparse.Namespace) -> int:
    target = about(args)
    if isinstance(target, Fleet):
        return fleet_cmds.history_all(args, target)
    history = fleet_cmds.history_of(target, args.limit)
    if args.json:
        print(json.dumps(render.history_json(*history), indent=2))
    else:
        render.print_history(*history)
    return EXIT_OK


def _logs(args: argparse.Namespace) -> int:
    """Every line, unlike the console's pane (which skips lines in a flood): for grep and less."""
    from console.core.contracts.runtime import ContainerRuntimeError

    console = open_console(args, read_only=True)
    stop = threading.Event()
    tail = max(0, args.tail)
    try:
        if args.follow:
            lines: Iterable[str] = console.follow_logs(args.color, stop, tail=tail)
        else:
            lines = console.log_lines(args.color, tail=tail)
        for line in lines:
            print(line, flush=args.follow)
    except ContainerRuntimeError as exc:
        render.error(f"Cannot read the {args.color} logs: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C is how one stops following
    finally:
        stop.set()
        console.close()
    return EXIT_OK


def _agent(args: argparse.Namespace) -> int:
    from console.agent.single import run_agent
    from console.core.config.checks import listen_problem

    found = load_fleet(args)
    if found.directory:  # one agent for every service of the directory; --service is ignored
        from console.agent.fleet import run_fleet_agent
        from console.agent.systemd import fleet_unit_text
        from console.core.config.fleet import load_fleet as read_fleet

        if args.systemd_unit:
            print(fleet_unit_text(found), end="")
            return EXIT_OK
        listen = getattr(args, "metrics", None)
        problem = listen and listen_problem(listen, any(c.metrics.allow_remote for c in found))
        if problem:
            print(f"--metrics: {problem}.", file=sys.stderr)
            return EXIT_USAGE
        reload = partial(read_fleet, found.path)
        return run_fleet_agent(found, reload, wiring.open_installation, listen)
    config = found.service(args.service)
    if args.systemd_unit:
        from console.agent.systemd import unit_text

        print(unit_text(config), end="")
        return EXIT_OK
    listen = getattr(args, "metrics", None)
    if listen:
        problem = listen_problem(listen, config.metrics.allow_remote)
        if problem:
            print(f"--metrics: {problem}.", file=sys.stderr)
            return EXIT_USAGE
    return run_agent(wiring.open_installation(config), listen)


def _reconcile(args: argparse.Namespace) -> int:
    from console.core.actor import current_actor
    from console.core.ops.reconcile import reconcile

    console = open_console(args)
    try:
        if console.read_only:
            raise OperationRefused("This console is read-only: reconcile changes state.")
        with console.installation.lock.acquire("reconcile", current_actor()):
            drifts = reconcile(console.installation, current_actor())
    finally:
        console.close()
    for drift in drifts:
        render.say(f"{'adoption' if drift.adoption else 'drift'}: {drift.what} — {drift.fixed}")
    render.say("No drift." if not drifts else f"{len(drifts)} difference(s) recorded.")
    return EXIT_OK


def _config_check(args: argparse.Namespace) -> int:
    try:
        # Not watching: a check resolves every secret, as the agent must.
        target = load(args) if getattr(args, "probe", False) else about(args, watching=False)
        if isinstance(target, Fleet):
            return fleet_cmds.check_all(target)
        config = target
    except ConfigError as exc:
        render.error(str(exc))
        return EXIT_USAGE
    render.say(render.config_summary(config, Path(config.path)))
    if not getattr(args, "probe", False):
        return EXIT_OK
    from console.cli.probe import probe

    lines = probe(config)
    for line in lines:
        render.say(f"  {'✗' if line.failed else '·'} {line.who:6} {line.text}")
    failed = [line.who for line in lines if line.failed]
    if failed:
        render.error(
            f"Probe failed for {', '.join(failed)}: fix the key each line names, then run "
            "`bluegreen config check --probe` again."
        )
        return EXIT_FAILED
    return EXIT_OK


def _proxy(args: argparse.Namespace) -> int:

    if args.proxy_command == "snippet":
        from console.drivers.proxy.fleet import fleet_snippet

        # Every service's (or the one -s names): the nginx (or HAProxy) they share is
        # configured for all at once. Read-only: it needs no secret.
        found = load_fleet(args, watching=True)
        for why in found.skipped.values():
            print(why, file=sys.stderr)
        chosen = [found.service(args.service)] if args.service else list(found)
        print(fleet_snippet(chosen))
        return EXIT_OK
    from console.core.actor import current_actor
    from console.core.ops.proxy_setup import proxy_install
    from console.drivers.proxy.fleet import install_steps

    if not args.read_only:  # a watcher hears it first, as for the other mutating commands
        require_write(load(args, watching=True), "proxy install")
    console = open_console(args)
    try:
        inst = console.installation
        events = proxy_install(
            inst, current_actor(), args.reload, console.read_only, adopt=args.adopt
        )
        outcome = run_events(console, events)
        if outcome is None or not outcome.ok:
            return EXIT_FAILED
        if not args.reload:
            render.say("\nYour own configuration needs these lines (once):\n")
            render.say(install_steps(inst.config))
    finally:
        console.close()
    return EXIT_OK
