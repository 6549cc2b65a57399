"""One edge: its name, the host it runs on, and the driver of its kind built for where it is.

`[proxy]` is the edge named "default"; each `[[proxy.edges]]` entry is the same `[proxy]` with the
keys that say where it is replaced (console/core/config/edges.py), built through the same driver
table, so every edge is driven exactly as a single proxy of its kind would be. An entry of another
kind (`kind = "haproxy"` beside an nginx `[proxy]`) keeps the keys every proxy shares (the probe,
the routes' names, the verify timeout) and takes its own kind's defaults for the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from console.core.config.edges import DEFAULT_EDGE, EdgeConfig
from console.core.config.proxy import HaproxyProxyConfig, NginxProxyConfig, ProxyBase, ProxyConfig
from console.core.config.schema import Config
from console.core.contracts.proxy import ProxyDriver


@dataclass(frozen=True)
class Edge:
    name: str
    host: str
    driver: ProxyDriver
    include_dir: str

    @property
    def label(self) -> str:
        return f"edge {self.name} ({self.host})"


def build_edges(config: Config, make: Callable[[Config], ProxyDriver]) -> list[Edge]:
    """Every edge of `config`, the default first; `make` builds one proxy's driver."""
    single = dataclasses.replace(config.proxy, edges=[])
    default_host = urlsplit(single.proxy_url).hostname or single.proxy_url
    edges = [Edge(DEFAULT_EDGE, default_host, make(_with(config, single)), single.include_dir)]
    for entry in config.proxy.edges:
        proxy = edge_proxy(single, entry)
        edges.append(Edge(entry.name, entry.where, make(_with(config, proxy)), proxy.include_dir))
    return edges


_KINDS: dict[str, type[NginxProxyConfig] | type[HaproxyProxyConfig]] = {
    "nginx": NginxProxyConfig,
    "haproxy": HaproxyProxyConfig,
}


def edge_proxy(single: ProxyConfig, entry: EdgeConfig) -> ProxyConfig:
    """The `[proxy]` an edge's own driver is built from: `single` with the entry's keys, or,
    for an edge of another kind, the shared keys of `single` in that kind's defaults."""
    base: ProxyConfig = single
    if entry.kind and entry.kind != single.kind:
        shared = {f.name: getattr(single, f.name) for f in dataclasses.fields(ProxyBase)}
        base = _KINDS[entry.kind](**shared)
    keys = {f.name for f in dataclasses.fields(base)}
    return dataclasses.replace(base, **entry.overrides(keys))  # type: ignore[arg-type]


def _with(config: Config, proxy: object) -> Config:
    return dataclasses.replace(config, proxy=proxy)  # type: ignore[arg-type]
