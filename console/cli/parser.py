"""The `bluegreen` argument parser: every command, its options, and the global options that may
stand before or after the command's name.

Configuration precedence, stated in `--help`: --config PATH > $BLUEGREEN_CONFIG > ./bluegreen.toml
> /etc/bluegreen/config.toml > the local sandbox's config.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from console.cli.exits import EXIT_USAGE

_DESCRIPTION = """Zero-downtime blue/green deployment for services that re-index before they serve.

Run without a command to open the console. Configuration precedence: --config PATH >
$BLUEGREEN_CONFIG > ./bluegreen.toml > /etc/bluegreen/config.toml > the local sandbox's config.
--config, --service, --read-only and --json (where a command has it) go before or after the
command: `bluegreen status -s web --json` = `bluegreen --service web --json status`.
Several services: --config names a directory (host.toml and one NAME.toml per service);
`status` and `history` without --service show every service."""

# Commands whose output has a machine-readable form (`--json`).
JSON_COMMANDS = ("status", "deploy", "history", "parity", "services", "sessions")
# Defaults of the options accepted anywhere. Sub-parsers declare them with SUPPRESS so an option
# given before the command is not overwritten by the sub-parser's default.
GLOBAL_DEFAULTS: dict[str, object] = {
    "config": None,
    "service": None,
    "read_only": False,
    "json": False,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One paragraph, then exit 2: no usage dump wall for a typo.
        self.exit(EXIT_USAGE, f"bluegreen: {message}. Run `{self.prog} --help` for usage.\n")


def _global_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="configuration file, or a directory of services (precedence: see `bluegreen --help`)",
    )
    options.add_argument(
        "-s",
        "--service",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help="which service (needed when several are configured; `bluegreen services` lists them)",
    )
    options.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="refuse every mutation (overrides the config); `watch` implies it",
    )
    return options


def _json_option() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return options


GLOBAL_OPTIONS = _global_options()
JSON_OPTION = _json_option()


def command_parser(
    sub: Any,  # argparse's _SubParsersAction, private in typeshed
    name: str,
    help_text: str,
    json_output: bool = False,
) -> argparse.ArgumentParser:
    """A (sub-)command's parser that also accepts the global options after its name."""
    parents = [GLOBAL_OPTIONS, JSON_OPTION] if json_output else [GLOBAL_OPTIONS]
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, parents=parents)
    return parser


def command_group(sub: Any, name: str, help_text: str, dest: str, metavar: str) -> Any:
    """A command with sub-commands of its own (`config check`, `proxy install`, `sandbox up`):
    returns the action to add them to."""
    group = command_parser(sub, name, help_text)
    return group.add_subparsers(dest=dest, metavar=metavar, required=True, parser_class=_Parser)


def _version() -> str:
    """The installed distribution's version (the wheel's metadata, or the editable install's)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bluegreen")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bluegreen",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[GLOBAL_OPTIONS, JSON_OPTION],
    )
    parser.add_argument("--version", action="version", version=f"bluegreen {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    command_parser(sub, "ui", "open the console (the default)")
    watch = command_parser(sub, "watch", "open the console read-only, for colleagues")
    from console.cli import web

    web.add_options(watch)
    command_parser(sub, "status", "live colour and both slots", json_output=True)
    command_parser(sub, "services", "the services configured on this host", json_output=True)

    deploy = command_parser(sub, "deploy", "start IMAGE in the idle colour", json_output=True)
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

    from console.cli import sessions

    switch = command_parser(sub, "switch", "send live traffic to the ready idle colour")
    switch.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    switch.add_argument(
        "--force", action="store_true", help="switch even if the gate is not met (audited)"
    )
    sessions.add_switch_options(switch)  # --keep-sessions ([sessions], cli/sessions.py)
    rollback = command_parser(sub, "rollback", "send live traffic back to the previous colour")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    history = command_parser(
        sub, "history", "deployments and the audit log, with actors", json_output=True
    )
    history.add_argument("--limit", type=int, default=50, help="how many events (default 50)")

    logs = command_parser(sub, "logs", "a colour's container logs, redacted (every line)")
    logs.add_argument("color", choices=["blue", "green"], help="whose logs")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument(
        "-n", "--tail", type=int, default=300, help="lines from before now (default 300)"
    )

    agent = command_parser(
        sub, "agent", "run the watcher in the foreground (deploy starts one if none runs)"
    )
    agent.add_argument(
        "--systemd-unit",
        action="store_true",
        help="print a systemd unit that runs this agent (with this config) and exit",
    )
    agent.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve Prometheus metrics there (overrides [metrics] listen; loopback only unless "
        "[metrics] allow_remote = true), e.g. 127.0.0.1:9464",
    )
    command_parser(sub, "reconcile", "compare the store with Docker and the proxy; record drift")
    config_sub = command_group(sub, "config", "configuration commands", "config_command", "check")
    check = command_parser(config_sub, "check", "validate the configuration and explain errors")
    check.add_argument(
        "--probe",
        action="store_true",
        help="also read each progress source once (head, each colour) and print what came back; "
        "exit 1 if one fails",
    )
    proxy_sub = command_group(sub, "proxy", "proxy commands", "proxy_command", "install|snippet")
    install = command_parser(
        proxy_sub,
        "install",
        "write and validate bluegreen's proxy files; print the include lines your config "
        "needs (idempotent; never touches your own files)",
    )
    install.add_argument(
        "--reload", action="store_true", help="also reload the proxy to apply them"
    )
    install.add_argument(
        "--adopt",
        choices=["blue", "green"],
        help="taking over from the old scripts: route to the container already running in this "
        "colour (only while nothing is live in bluegreen's store); the next reconcile records "
        "the adoption",
    )
    command_parser(
        proxy_sub, "snippet", "print what to include in your nginx/haproxy config (after `install`)"
    )

    sandbox_sub = command_group(
        sub,
        "sandbox",
        "a local world (explorer, web or evm profile) behind nginx",
        "sandbox_command",
        "up|down|status",
    )
    up = command_parser(sandbox_sub, "up", "build and start the sandbox, v1 live in blue")
    up.add_argument(
        "--docker-host",
        metavar="URL",
        help="the Docker-API engine to build and run on, e.g. unix:///run/podman/podman.sock "
        "(written to [runtime] docker_host; default $DOCKER_HOST, then the local socket)",
    )
    up.add_argument("--dir", help="where the sandbox keeps its files")
    up.add_argument(
        "--profile",
        choices=["explorer", "web", "evm", "fleet", "swarm"],
        default="explorer",
        help="which shape of service: explorer (re-indexes from PostgreSQL; the default), "
        "web (plain HTTP service, no database), evm (JSON-RPC chain, indexer with its own "
        "progress endpoint), fleet (the three as one configuration directory, one nginx), "
        "swarm (web on a three-node Docker Swarm in network namespaces, 3 replicas a colour)",
    )
    up.add_argument(
        "--history",
        type=int,
        default=None,
        metavar="BLOCKS",
        help="blocks of chain history, explorer and evm (default 20000)",
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
        help="proxy on PORT, blue PORT+1, green PORT+2, admin PORT+19, Postgres PORT+20, "
        "JSON-RPC chain PORT+21 (default 18080)",
    )
    down = command_parser(sandbox_sub, "down", "stop and remove everything the sandbox made")
    down.add_argument("--dir", help="the sandbox's directory")
    sb_status = command_parser(sandbox_sub, "status", "what the sandbox runs", json_output=True)
    sb_status.add_argument("--dir", help="the sandbox's directory")
    from console.cli import canary, completion, holds, images, parity

    parity.add_parser(sub, command_parser)
    canary.add_parser(sub, command_parser)
    holds.add_parser(sub, command_parser)
    sessions.add_parser(sub, command_parser)
    completion.add_parser(sub)
    images.add_parser(sub, command_parser)  # rollback --to VERSION, prune
    return parser


def _json_applies(args: argparse.Namespace) -> bool:
    if args.command == "sandbox":
        return bool(args.sandbox_command == "status")
    return args.command in JSON_COMMANDS


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.json and not _json_applies(args):
        parser.error(f"--json does not apply to `{args.command or 'ui'}`")
    if args.command == "watch" and not args.web and (args.listen or args.allow_remote):
        parser.error("--listen and --allow-remote go with `watch --web`")
    return args
