"""`bluegreen watch --web`: the read-only console in a browser, served by textual-serve.

textual-serve (the Textual authors' package) runs one console process per browser tab and relays
its screen over a websocket. The command it runs is fixed here — `--config <this config>
--read-only watch` — so nothing a browser sends (only keys, resizes and focus) can start a console
that binds a mutating key: the served app never has them (console/tui/actions.py).

It listens on loopback unless `--allow-remote` says otherwise, and the server has no login, so two
browser-side attacks are closed here: a page on another site opening our websocket (the Origin
must be this server) and DNS rebinding (on loopback, the Host must be a loopback name).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from console.core.config.checks import parse_listen
from console.core.listening import bind_error

DEFAULT_LISTEN = "127.0.0.1:8765"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def add_options(watch: argparse.ArgumentParser) -> None:
    watch.add_argument(
        "--web",
        action="store_true",
        help="serve the read-only console to a browser instead (textual-serve)",
    )
    watch.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"with --web: where to listen (default {DEFAULT_LISTEN}; loopback only unless "
        "--allow-remote)",
    )
    watch.add_argument(
        "--allow-remote",
        action="store_true",
        help="with --web: allow a non-loopback --listen (the page has no login: put an "
        "authenticating proxy in front)",
    )


class WebViewError(Exception):
    """A sentence for the operator; `usage` says whether it is a usage error (exit 2)."""

    def __init__(self, text: str, usage: bool = False) -> None:
        super().__init__(text)
        self.usage = usage


def checked_listen(text: str, allow_remote: bool) -> tuple[str, int]:
    """HOST:PORT → (host, port); a non-loopback host needs `allow_remote`."""
    try:
        host, port = parse_listen(text)
    except ValueError as exc:
        raise WebViewError(f"--listen: {exc}.", usage=True) from None
    if host == "localhost" or allow_remote:
        return host, port
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise WebViewError(
            f"--listen: '{host}' is not an IP address; give a loopback address such as 127.0.0.1.",
            usage=True,
        ) from None
    if not loopback:
        raise WebViewError(
            f"--listen: {host} is not a loopback address. The web view has no login, so it "
            "listens on loopback only; reach it through an SSH tunnel "
            f"(ssh -L {port}:127.0.0.1:{port} HOST), or add --allow-remote behind a proxy "
            "that authenticates.",
            usage=True,
        )
    return host, port


def served_command(config_path: str, service: str | None = None) -> str:
    """The one command every browser tab runs (a shell line: textual-serve spawns it so). A
    configuration of several services opens on their overview, as in a terminal, unless one is
    named."""
    named = ["--service", service] if service else []
    return shlex.join(
        [sys.executable, "-m", "console", "--config", config_path, *named, "--read-only", "watch"]
    )


def host_allowed(host_header: str, listen_host: str, port: int, allow_remote: bool) -> bool:
    """On loopback only loopback names are served: a rebound DNS name pointing at 127.0.0.1
    would otherwise let a web page read the console."""
    if allow_remote:
        return True
    bracketed = f"[{listen_host}]" if ":" in listen_host else listen_host
    names = {*LOOPBACK_NAMES, bracketed}
    return host_header in {f"{name}:{port}" for name in names} | (names if port == 80 else set())


def origin_allowed(origin: str | None, host_header: str) -> bool:
    """A websocket may be opened by our own page only (browsers send Origin; scripts may not)."""
    if origin is None:
        return True
    return urlsplit(origin).netloc == host_header


def port_problem(host: str, port: int) -> str | None:
    """Why (host, port) cannot be listened on, found by binding it once before serving."""
    exc = bind_error(host, port)
    return None if exc is None else _bind_sentence(exc, host, port)


def _bind_sentence(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} on {host} is already in use (another web view?). Choose another "
            f"with --listen {host}:PORT."
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this host. Use 127.0.0.1 or one of its addresses."
    if exc.errno == errno.EACCES:
        return f"Port {port} needs root to listen on. Choose a port above 1023."
    return f"Cannot listen on {host}:{port}: {exc.strerror or exc}."


def run(args: argparse.Namespace, config_path: str, service: str | None = None) -> int:
    """Serve until Ctrl+C / SIGTERM; exit 1 when it cannot listen, 2 on bad options."""
    try:
        host, port = checked_listen(args.listen or DEFAULT_LISTEN, args.allow_remote)
        server = _server(served_command(config_path, service), host, port, args.allow_remote)
        problem = port_problem(host, port)
        if problem:
            raise WebViewError(problem)
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        print(f"Read-only web view on {url}/ (Ctrl+C stops it).", flush=True)
        try:
            server.serve()
        except OSError as exc:  # lost a race for the port after the probe
            raise WebViewError(_bind_sentence(exc, host, port)) from None
    except WebViewError as exc:
        render.error(str(exc))
        return EXIT_USAGE if exc.usage else EXIT_FAILED
    return EXIT_OK


def _server(command: str, host: str, port: int, allow_remote: bool) -> Any:
    try:
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError:
        raise WebViewError(
            "The web view needs the textual-serve package: pip install textual-serve (it is a "
            "dependency of bluegreen; reinstall bluegreen to get it)."
        ) from None

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    @web.middleware
    async def same_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.host, host, port, allow_remote):
            raise web.HTTPForbidden(text="This web view answers to loopback names only.\n")
        if not origin_allowed(request.headers.get("Origin"), request.host):
            raise web.HTTPForbidden(text="Cross-origin websocket refused.\n")
        return await handler(request)

    class ReadOnlyServer(Server):
        async def _make_app(self) -> web.Application:
            app: web.Application = await super()._make_app()
            app.middlewares.append(same_origin)
            return app

        async def on_startup(self, app: web.Application) -> None:
            pass  # our one line is printed before serving; no banner

        async def handle_index(self, request: web.Request) -> Any:
            # The page's websocket URL is built from public_url: use the name the browser used
            # (an --allow-remote listen on 0.0.0.0 has no name of its own to give).
            self.public_url = f"http://{request.host}"
            return await super().handle_index(request)

    return ReadOnlyServer(command, host=host, port=port, title="bluegreen (read-only)")
