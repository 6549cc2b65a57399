"""A fleet of N web stand-in services behind one nginx, for what issue 23 measures per service
(the agent's idle CPU, RSS and tick with 1, 5 and 20 services).

`bring_up(directory, services=N, port_base=B)` stands up services `web01`…`webNN`, each the
`web` sandbox profile (its own two containers: v1 live in blue and, with `both_colours`, v2
deployed into green and ready, not switched) as one configuration directory — host.toml and one
NAME.toml each — behind ONE nginx, through the sandbox's own `stand_up` (console/sandbox/world.py):
nothing here renders a config or starts a part itself.

Ports: the host's at the sandbox's offsets from B (nginx admin B+19, the agent's exporter B+22),
then each service's three from B+23 on (its listen port — its `proxy_url` — blue, green).

    python -m bench.fleet_world --services 5 [--port-base 34100] [--dir DIR]   (then `down`)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path

from console.sandbox import world
from console.sandbox.procs import terminate
from console.sandbox.profiles.base import Ports
from console.sandbox.profiles.fleet import member_ports
from console.sandbox.profiles.web import WebProfile

PORT_BASE = 34100  # the sandbox helper's manual range: clear of every test's ports
HOST_SPAN = max(astuple(Ports.from_base(0))) + 1  # the host's offsets; services start after them
DEPLOY_TIMEOUT = 180.0


@dataclass
class FleetWorld:
    directory: Path
    services: dict[str, str]  # name → its proxy URL
    metrics_url: str  # the one agent's exporter (host.toml's [metrics])

    @property
    def config(self) -> Path:
        return self.directory  # what --config takes: the directory

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "console", "--config", str(self.directory), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def agent_pid(self) -> int | None:
        """The host's one agent, from its lease (None when none runs)."""
        try:
            return int(json.loads((self.directory / "state" / "agent.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def stop_agent(self, timeout: float = 30) -> None:
        """Stop the agent `deploy` started, so a benchmark can start (and measure) its own."""
        terminate(self.agent_pid(), wait=timeout)

    def down(self) -> list[str]:
        return world.down(self.directory, say=lambda _: None)


def plan(services: int, port_base: int) -> world.Plan:
    names = [f"web{index + 1:02}" for index in range(services)]
    first = port_base + HOST_SPAN
    return world.Plan(
        profile=f"web-fleet-{services}",
        services=tuple((name, WebProfile()) for name in names),
        ports={name: member_ports(port_base, i, first) for i, name in enumerate(names)},
        fleet=True,
    )


def bring_up(
    directory: Path | None = None,
    services: int = 5,
    port_base: int = PORT_BASE,
    both_colours: bool = True,
    say: Callable[[str], None] = print,
) -> FleetWorld:
    """N web services, v1 live in each; with `both_colours`, v2 ready in each green too. On a
    failure everything brought up so far is taken down before the error is raised."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix=f"bgbench-fleet{services}-", dir="/var/tmp"))
    try:
        info = world.stand_up(directory, plan(services, port_base), port_base=port_base, say=say)
        found = FleetWorld(
            Path(info.dir),
            {name: str(own["proxy_url"]) for name, own in info.services.items()},
            f"http://127.0.0.1:{Ports.from_base(port_base).metrics}/metrics",
        )
        if both_colours:
            say(f"Deploying v2 into green of {services} services (not switched)…")
            _deploy_green(found)
    except BaseException:
        world.down(directory, say=lambda _: None)
        raise
    return found


def _deploy_green(fleet: FleetWorld) -> None:
    """v2 into every green, four at a time, each waited for until ready (it stays idle)."""

    def one(name: str) -> None:
        done = fleet.cli(
            "--service", name, "deploy", "v2", "--switch", "never", "--wait",
            "--timeout", str(int(DEPLOY_TIMEOUT)), timeout=DEPLOY_TIMEOUT + 30,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"deploy v2 of {name} failed: {done.stdout}{done.stderr}")

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(one, name) for name in fleet.services]:
            future.result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5)
    parser.add_argument("--port-base", type=int, default=PORT_BASE)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--one-colour", action="store_true", help="leave every green empty")
    args = parser.parse_args(argv)
    fleet = bring_up(args.dir, args.services, args.port_base, not args.one_colour)
    print(f"Up: {fleet.directory} ({len(fleet.services)} services, one nginx).")
    print(f"Take it down with: bluegreen sandbox down --dir {fleet.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
