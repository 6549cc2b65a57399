"""The commands that speak of every service on the host: `services`, and `status` and `history`
given no `--service` when several are configured. A service whose file was skipped is listed with
why, so the operator sees it is missing rather than not noticing it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from console import wiring
from console.cli import render
from console.cli.exits import EXIT_OK, EXIT_USAGE
from console.cli.session import load_fleet
from console.core.config.fleet import Fleet
from console.core.config.schema import Config
from console.core.contracts.runtime import ImageArrival
from console.core.hooks.outcome import HookRun
from console.core.model import Deployment, EventRecord, Status
from console.core.store.image_pull import image_arrivals
from console.core.store.resources import DeploymentResources, deployment_resources


def _status_of(config: Config) -> Status:
    console = wiring.open_console(config, read_only=True)
    try:
        return console.status()
    finally:
        console.close()


def services(args: argparse.Namespace) -> int:
    found = load_fleet(args, watching=True)
    rows: list[dict[str, Any]] = []
    for name, config in found.services.items():
        status = _status_of(config)
        live = status.slots.get(status.live) if status.live else None
        rows.append(
            {
                "service": name,
                "live": status.live,
                "version": live.version if live else None,
                "agent_running": status.agent.running,
                "proxy_url": config.proxy.proxy_url,
                "state_dir": config.state_dir,
                "config": config.path,
            }
        )
    skipped = [{"service": name, "error": why} for name, why in found.skipped.items()]
    if args.json:
        print(json.dumps({"services": rows, "skipped": skipped}, indent=2))
        return EXIT_OK
    width = max((len(row["service"]) for row in rows + skipped), default=7)
    print(f"{'SERVICE':{width}}  LIVE           AGENT    PROXY")
    for row in rows:
        shown = f"{row['live'] or 'none'} {row['version'] or ''}".strip()
        agent = "running" if row["agent_running"] else "stopped"
        print(f"{row['service']:{width}}  {shown:13}  {agent:7}  {row['proxy_url']}")
    for row in skipped:
        print(f"{row['service']:{width}}  SKIPPED: {row['error']}")
    return EXIT_OK


def status_all(args: argparse.Namespace, found: Fleet) -> int:
    statuses = [(config, _status_of(config)) for config in found]
    if args.json:
        document = {
            "services": [render.status_json(status) for _, status in statuses],
            "skipped": [{"service": n, "error": why} for n, why in found.skipped.items()],
        }
        print(json.dumps(document, indent=2))
        return EXIT_OK
    for index, (config, status) in enumerate(statuses):
        if index:
            print()
        render.print_status(status, catchup=config.catchup)
    _print_skipped(found)
    return EXIT_OK


History = tuple[
    list[EventRecord],
    list[Deployment],
    dict[int, DeploymentResources],
    dict[int, ImageArrival],
    list[HookRun],
]


def history_of(config: Config, limit: int) -> History:
    """One service's events, deployments, each deployment's peak resources and image pull."""
    console = wiring.open_console(config, read_only=True)
    try:
        store = console.installation.store
        deployments = store.deployments(limit=limit)
        ids = [d.id for d in deployments]
        used = deployment_resources(store, ids)
        return (
            store.events(limit=limit),
            deployments,
            used,
            image_arrivals(store, ids),
            store.hook_runs(limit=limit),
        )
    finally:
        console.close()


def history_all(args: argparse.Namespace, found: Fleet) -> int:
    sections: list[dict[str, Any]] = []
    for name, config in found.services.items():
        history = history_of(config, args.limit)
        if args.json:
            sections.append({"service": name, **render.history_json(*history)})
            continue
        print(f"══ {name} ══")
        render.print_history(*history)
        print()
    if args.json:
        skipped = [{"service": n, "error": why} for n, why in found.skipped.items()]
        print(json.dumps({"services": sections, "skipped": skipped}, indent=2))
    else:
        _print_skipped(found)
    return EXIT_OK


def check_all(found: Fleet) -> int:
    """`config check` over a directory: every service's summary, then every skipped file; exit
    2 when one was skipped (the agent would watch the others only)."""
    for config in found:
        render.say(render.config_summary(config, Path(config.path)))
    for why in found.skipped.values():
        render.error(why)
    return EXIT_USAGE if found.skipped else EXIT_OK


def _print_skipped(found: Fleet) -> None:
    for why in found.skipped.values():
        print(f"\n{why}")
