"""Progress sources: one class per `kind`, one table, and the builders the agent calls.

Adding a kind = one dataclass in console/core/config/sources.py, one module here with its class,
and one entry in `KINDS`. The agent, the gate and the console do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.core.config.schema import Config
from console.core.config.sources import (
    DEFAULT_HEAD_QUERY,
    AnySource,
    HttpSource,
    JsonRpcSource,
    LogSource,
    PrometheusSource,
    SqlSource,
    fill_url,
)
from console.core.contracts.progress import ProgressSource, Reading, SourceUnavailable
from console.core.model import Color
from console.drivers.progress.base import Place
from console.drivers.progress.http import HttpProgress
from console.drivers.progress.jsonrpc import JsonRpcProgress
from console.drivers.progress.log import LogProgress
from console.drivers.progress.prometheus import PrometheusProgress
from console.drivers.progress.sql import SqlProgress

__all__ = [
    "KINDS",
    "ProgressSource",
    "Reading",
    "SourceUnavailable",
    "make_candidate_source",
    "make_head_source",
]

# (spec, place, url with the colour's values filled in, default database URL) → source
Builder = Callable[[Any, Place, str, str], ProgressSource]


def _sql(spec: SqlSource, place: Place, url: str, default_db_url: str) -> ProgressSource:
    query = spec.query or DEFAULT_HEAD_QUERY
    return SqlProgress(place, url or default_db_url, query, spec.aggregate)


KINDS: dict[str, Builder] = {
    "sql": _sql,
    "http": lambda spec, place, url, _db: HttpProgress(place, spec, url),
    "jsonrpc": lambda spec, place, url, _db: JsonRpcProgress(place, spec, url),
    "prometheus": lambda spec, place, url, _db: PrometheusProgress(place, spec, url),
    "log": lambda spec, place, _url, _db: LogProgress(place, spec.pattern),
}

# The subject of each kind's sentences: "The source database is unreachable …".
_HEAD_LABELS = {
    "sql": "source database",
    "http": "chain head endpoint",
    "jsonrpc": "chain head RPC endpoint",
    "prometheus": "chain head metrics endpoint",
}
_CANDIDATE_LABELS = {
    "sql": "{color} database",
    "http": "{color} progress endpoint",
    "jsonrpc": "{color} RPC endpoint",
    "prometheus": "{color} metrics endpoint",
    "log": "{color} container log",
}


def make_head_source(config: Config) -> ProgressSource | None:
    """The independent chain head, or None (no catch-up, or each colour reports its own)."""
    spec = config.effective_head
    if spec is None:
        return None
    place = Place("head", _HEAD_LABELS[spec.kind], None, config.readiness.statement_timeout_ms)
    return KINDS[spec.kind](spec, place, _url(spec), config.head_db_url)


def make_candidate_source(config: Config, color: Color) -> ProgressSource | None:
    """A colour's own progress, or None for a service that does not re-index."""
    spec = config.candidate
    if spec.kind == "none":
        return None
    slot = config.slot(color)
    label = _CANDIDATE_LABELS[spec.kind].format(color=color)
    place = Place("candidate", label, color, config.readiness.statement_timeout_ms)
    url = fill_url(_url(spec), slot.host_port, color, slot.container)
    if isinstance(spec, SqlSource) and not spec.query:
        spec = SqlSource(query=config.candidate_query(), url=spec.url, aggregate=spec.aggregate)
    return KINDS[spec.kind](spec, place, url, slot.sampling_db_url)


def _url(spec: AnySource) -> str:
    if isinstance(spec, SqlSource | HttpSource | JsonRpcSource | PrometheusSource):
        return spec.url
    assert isinstance(spec, LogSource)
    return ""
