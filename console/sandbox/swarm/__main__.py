"""`python -m console.sandbox.swarm up [--dir D] [--prefix P] [--subnet S] [IMAGE…]`, `down
[--dir D]` (the bed recorded there) and `down-all` (every bed this machine recorded: what
`./dev clean` runs, so a crashed run's bed never outlives it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.sandbox.swarm import BedError, BedSpec, down_all, down_at, up
from console.sandbox.swarm.spec import TEST_DIRECTORY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.sandbox.swarm")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="bring a three-node Swarm bed up")
    start.add_argument("--prefix", default="bgsw")
    start.add_argument("--subnet", default="10.77.0", help="the bridge's /24 (three octets)")
    start.add_argument("--dir", type=Path, help="its directory (default under /var/tmp)")
    start.add_argument("images", nargs="*", help="images to copy from the host's engine")
    stop = commands.add_parser("down", help="remove the bed recorded in --dir")
    stop.add_argument("--dir", type=Path, default=TEST_DIRECTORY / "bgsw")
    commands.add_parser("down-all", help="remove every bed this machine recorded")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            directory = args.dir or TEST_DIRECTORY / args.prefix
            bed = up(BedSpec(directory, args.prefix, args.subnet), args.images)
            for node in bed.nodes:
                print(f"{node.name}\t{node.address}\t{node.docker_host}")
            return 0
        left = down_at(args.dir, print) if args.command == "down" else down_all(print)
    except BedError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
