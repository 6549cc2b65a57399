"""Where HAProxy's runtime API is reached: a unix socket path, or TCP for an HAProxy on another
host (`stats socket ipv4@10.0.0.7:9999 level admin` in its global section; `proxy.admin_socket`
= "ipv4@10.0.0.7:9999"). The runtime API has no authentication of its own: bind a TCP one to an
address only the console's hosts can reach (a private network, a firewall rule)."""

from __future__ import annotations

import re
import socket

# HAProxy's own spelling of a TCP address (ipv4@ / ipv6@[…]), or tcp://HOST:PORT.
_TCP = re.compile(r"(?:ipv4@|ipv6@|tcp://)\[?(?P<host>[^\]]+?)\]?:(?P<port>\d{1,5})")


def tcp_address(where: str) -> tuple[str, int] | None:
    """(host, port) when `where` names a TCP runtime API; None for a unix socket path."""
    found = _TCP.fullmatch(where)
    return (found["host"], int(found["port"])) if found else None


def connect(where: str, timeout: float) -> socket.socket:
    """A connected socket to the runtime API at `where`, with `timeout` on every call; OSError
    when it cannot be reached within it."""
    address = tcp_address(where)
    if address is None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = where
    else:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock, target = socket.socket(family, socket.SOCK_STREAM), address
    try:
        sock.settimeout(timeout)
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock
