"""`bluegreen` command line.

Exit codes: 0 success, 1 operation refused or failed, 2 usage or config error.

Configuration is found in this order (first wins): --config PATH, $BLUEGREEN_CONFIG,
./bluegreen.toml, /etc/bluegreen/config.toml, then the local sandbox's config if one is up.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from console.core.config import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = """Zero-downtime blue/green deployment for services that re-index before they serve.

Run without a command to open the console. Configuration precedence: --config PATH >
$BLUEGREEN_CONFIG > ./bluegreen.toml > /etc/bluegreen/config.toml > the local sandbox's config."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One paragraph, then exit 2: no usage dump wall for a typo.
        self.exit(EXIT_USAGE, f"bluegreen: {message}. Run `{self.prog} --help` for usage.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bluegreen",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (see precedence above)"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="refuse every mutation (overrides the config); `watch` implies it",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("ui", help="open the console (the default)")
    sub.add_parser("watch", help="open the console read-only, for colleagues")
    status = sub.add_parser("status", help="live colour and both slots")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    deploy = sub.add_parser("deploy", help="start IMAGE in the idle colour")
    deploy.add_argument("image", help="NAME[:TAG], or a TAG of [image] repository")
    deploy.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="environment override for this deployment (repeatable)",
    )
    deploy.add_argument(
        "--switch",
        dest="policy",
        choices=["confirm", "auto", "never"],
        help="what to do once ready (default: [switch] policy)",
    )
    deploy.add_argument(
        "--from-tar",
        metavar="PATH",
        help="load the image from a `docker save` tar when it is not present (no registry)",
    )
    deploy.add_argument(
        "--wait",
        action="store_true",
        help="return when ready (or live, with --switch auto); exit 1 if it fails",
    )
    deploy.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --wait: give up after this long (0 = no limit)",
    )
    deploy.add_argument("--json", action="store_true", help="machine-readable output")

    switch = sub.add_parser("switch", help="send live traffic to the ready idle colour")
    switch.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    switch.add_argument(
        "--force", action="store_true", help="switch even if the gate is not met (audited)"
    )
    rollback = sub.add_parser("rollback", help="send live traffic back to the previous colour")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    history = sub.add_parser("history", help="deployments and the audit log, with actors")
    history.add_argument("--json", action="store_true", help="machine-readable output")
    history.add_argument("--limit", type=int, default=50, help="how many events (default 50)")

    logs = sub.add_parser("logs", help="a colour's container logs, redacted (every line)")
    logs.add_argument("color", choices=["blue", "green"], help="whose logs")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument(
        "-n", "--tail", type=int, default=300, help="lines from before now (default 300)"
    )

    sub.add_parser(
        "agent", help="run the watcher in the foreground (deploy starts one if none runs)"
    )
    sub.add_parser("reconcile", help="compare the store with Docker and the proxy; record drift")
    config = sub.add_parser("config", help="configuration commands")
    config_sub = config.add_subparsers(
        dest="config_command", metavar="check", required=True, parser_class=_Parser
    )
    check = config_sub.add_parser("check", help="validate the configuration and explain errors")
    check.add_argument(
        "--probe",
        action="store_true",
        help="also read each progress source once (head, each colour) and print what came back; "
        "exit 1 if one fails",
    )
    proxy = sub.add_parser("proxy", help="proxy commands")
    proxy_sub = proxy.add_subparsers(
        dest="proxy_command", metavar="install|snippet", required=True, parser_class=_Parser
    )
    install = proxy_sub.add_parser(
        "install",
        help="write and validate bluegreen's proxy files; print the include lines your config "
        "needs (idempotent; never touches your own files)",
    )
    install.add_argument(
        "--reload", action="store_true", help="also reload the proxy to apply them"
    )
    proxy_sub.add_parser(
        "snippet", help="print what to include in your nginx/haproxy config (after `install`)"
    )

    sandbox = sub.add_parser(
        "sandbox", help="a local world: chain, stand-in indexer, Postgres, nginx"
    )
    sandbox_sub = sandbox.add_subparsers(
        dest="sandbox_command", metavar="up|down|status", required=True, parser_class=_Parser
    )
    up = sandbox_sub.add_parser("up", help="build and start the sandbox, v1 live in blue")
    up.add_argument("--dir", help="where the sandbox keeps its files")
    up.add_argument(
        "--history",
        type=int,
        default=None,
        metavar="BLOCKS",
        help="blocks of chain history (default 20000)",
    )
    up.add_argument(
        "--speed",
        type=int,
        default=None,
        metavar="BLOCKS_PER_S",
        help="stand-in indexing speed (default 400: v2 re-indexes in about a minute)",
    )
    up.add_argument(
        "--port-base",
        type=int,
        default=None,
        metavar="PORT",
        help="proxy on PORT, blue PORT+1, green PORT+2, admin PORT+19, Postgres PORT+20 "
        "(default 18080)",
    )
    down = sandbox_sub.add_parser("down", help="stop and remove everything the sandbox made")
    down.add_argument("--dir", help="the sandbox's directory")
    sb_status = sandbox_sub.add_parser("status", help="what the sandbox runs")
    sb_status.add_argument("--dir", help="the sandbox's directory")
    sb_status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from console.cli import commands

    handler: Callable[[argparse.Namespace], int] = commands.dispatch(args)
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"bluegreen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bluegreen: interrupted.", file=sys.stderr)
        return EXIT_FAILED
