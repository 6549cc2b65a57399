"""Whether a port can be listened on now, asked by binding it once."""

from __future__ import annotations

import socket


def bind_error(host: str, port: int) -> OSError | None:
    """Why `host:port` cannot be listened on now (None: it can).

    SO_REUSEADDR, as nginx, PostgreSQL and aiohttp bind: a connection left in TIME_WAIT is no
    obstacle, a listener (or any socket bound there without it) is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None
