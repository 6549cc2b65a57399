"""`bluegreen sandbox up|down|status`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK


def _dir(args: argparse.Namespace) -> Path | None:
    return Path(args.dir) if getattr(args, "dir", None) else None


def _up(args: argparse.Namespace) -> int:
    from console.sandbox import world

    try:
        info = world.up(
            _dir(args),
            history=args.history or world.DEFAULT_HISTORY,
            speed=args.speed or world.DEFAULT_SPEED,
            port_base=args.port_base or world.DEFAULT_PORT_BASE,
            say=render.say,
            profile=args.profile,
            docker_host=args.docker_host or "",
        )
    except Exception as exc:  # every part's errors are sentences; show one, never a traceback
        render.error(f"sandbox up failed: {exc}")
        return EXIT_FAILED
    if len(info.services) > 1:
        proxies = "".join(
            f"\n    {name:10} {service['proxy_url']}" for name, service in info.services.items()
        )
        render.say(
            f"Sandbox up ({info.profile} profile). v1 is live in blue in every service.\n"
            f"  config:    {info.config}  (host.toml and one file per service)\n"
            f"  proxies:   one nginx, one port per service (responses carry X-Bluegreen-Color):"
            f"{proxies}\n"
            f"  images:    {', '.join(info.images)}\n"
            f"Try:  export BLUEGREEN_CONFIG={info.config}\n"
            f"      bluegreen services; bluegreen -s web deploy v2 --switch never --wait; bluegreen"
        )
        return EXIT_OK
    render.say(
        f"Sandbox up ({info.profile} profile). v1 is live in blue.\n"
        f"  config:    {info.config}\n"
        f"  proxy:     {info.proxy_url}  (responses carry X-Bluegreen-Color)\n"
        f"  images:    {', '.join(info.images)}\n"
        f"Try:  export BLUEGREEN_CONFIG={info.config}\n"
        f"      bluegreen status; bluegreen deploy v2 --switch never --wait; bluegreen"
    )
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    from console.sandbox import world

    left = world.down(_dir(args), say=render.say)
    if left:
        render.error(
            "sandbox down could not remove all of the sandbox: stop or remove what is listed "
            "above by hand (`docker rm -f NAME`, `kill PID`), then run it again."
        )
        return EXIT_FAILED
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from console.sandbox import world

    state = world.status(_dir(args))
    if args.json:
        print(json.dumps(state, indent=2))
    else:
        for key, value in state.items():
            render.say(f"{key:10} {value}")
    return EXIT_OK if state.get("up") else EXIT_FAILED


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": _up,
    "down": _down,
    "status": _status,
}
