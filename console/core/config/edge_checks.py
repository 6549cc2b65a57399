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
    problems = edge_problems(proxy.edges, default, proxy.kind)
    analysis = config.analysis
    p99 = analysis.enabled and analysis.max_p99_ms + analysis.max_p99_ratio > 0
    haproxy = [e.name for e in proxy.edges if (e.kind or proxy.kind) == "haproxy"]
    if p99 and haproxy and proxy.kind != "haproxy":  # [proxy]'s own kind: config/checks.py
        problems.append(
            "analysis.max_p99_ms and max_p99_ratio need latency percentiles, which the HAProxy "
            f"edge '{haproxy[0]}' does not give (the edges' traffic is judged as one sum): set "
            "them to 0 and judge by analysis.max_error_rate"
        )
    return problems
