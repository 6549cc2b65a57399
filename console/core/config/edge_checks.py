"""`[[proxy.edges]]` checked against the rest of the configuration (config/edges.py holds the
section and its own checks; this module may import the schema, which imports that one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.core.config.edges import DEFAULT_EDGE, EdgePlace, edge_problems

if TYPE_CHECKING:
    from console.core.config.schema import Config


def config_edge_problems(config: Config) -> list[str]:
    """`edge_problems` for a whole configuration."""
    proxy = config.proxy
    admin = getattr(proxy, "admin_url", "") or config.admin_socket_path
    default = EdgePlace(DEFAULT_EDGE, admin, proxy.include_dir)
    return edge_problems(proxy.edges, default, proxy.kind)
