"""`bluegreen parity [--json]`: compare both colours now, at a pinned height.

Reads both colours' heights afresh, pins H = min(blue, green) − readiness.parity_margin, runs every
[[parity]] check on each colour. Exit 0 when every check matches, 1 otherwise (a differ, an error,
a colour that cannot be read), 2 when no check is configured.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from console.cli.session import load
from console.core.installation import Installation
from console.core.measures.parity import report_json, report_lines, summary
from console.core.model import COLORS, Color
from console.wiring import open_installation


def add_parser(sub: Any, command_parser: Callable[..., argparse.ArgumentParser]) -> None:
    command_parser(
        sub,
        "parity",
        "compare both colours at a pinned height ([[parity]] checks); exit 1 unless all match",
        json_output=True,
    )


def docker_not_serving(inst: Installation) -> dict[Color, str]:
    """Colours whose container does not run, asked of Docker now (not the agent's last tick)."""
    from console.core.contracts.runtime import ContainerRuntimeError

    out: dict[Color, str] = {}
    for color in COLORS:
        try:
            info = inst.runtime.inspect(inst.config.slot(color).container)
        except ContainerRuntimeError as exc:
            out[color] = f"Docker cannot tell whether it runs ({exc})"
            continue
        if info is None:
            out[color] = "it has no container"
        elif not info.running:
            out[color] = f"its container is {info.state}"
    return out


def run(args: argparse.Namespace) -> int:
    inst = open_installation(load(args))
    try:
        sampler = inst.parity
        if sampler is None:
            render.error(
                "No [[parity]] check is configured: add one (e.g. the block hash at {height} from "
                "each colour's database, see config.example.toml), then run `bluegreen parity`."
            )
            return EXIT_USAGE
        report = sampler.run(docker_not_serving(inst))
    finally:
        inst.close()
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        for line in report_lines(report):
            render.say(line)
        if not report.all_match:
            render.error(summary(report) + ".")
    return EXIT_OK if report.all_match else EXIT_FAILED
