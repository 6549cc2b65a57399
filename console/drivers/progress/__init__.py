"""Progress sources: one class per `kind`, one table, and the builders the agent calls.

A new progress kind = one spec dataclass in console/core/config/sources.py (its keys, labels,
URL and checks; the recipe is there) and its row in `SPECS`, one module here with its source
class, and one row in `KINDS`. The agent, the gate and the console do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.core.config.schema import Config
from console.core.config.sources import (
    DEFAULT_CANDIDATE_QUERY,
    DEFAULT_HEAD_QUERY,
    FetchedSource,
    HttpSource,
    JsonRpcSource,
    LogSource,
    PrometheusSource,
    SourceSpec,
    SqlSource,
    at_endpoint,
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
    "make_task_source",
]

# (spec, place, url with the colour's values filled in, default database URL) → source
Builder = Callable[[Any, Place, str, str], ProgressSource]


def _sql(spec: SqlSource, place: Place, url: str, default_db_url: str) -> ProgressSource:
    default_query = DEFAULT_HEAD_QUERY if place.key == "head" else DEFAULT_CANDIDATE_QUERY
    return SqlProgress(place, url or default_db_url, spec.query or default_query, spec.aggregate)


KINDS: dict[type[SourceSpec], Builder] = {
    SqlSource: _sql,
    HttpSource: lambda spec, place, url, _db: HttpProgress(place, spec, url),
    JsonRpcSource: lambda spec, place, url, _db: JsonRpcProgress(place, spec, url),
    PrometheusSource: lambda spec, place, url, _db: PrometheusProgress(place, spec, url),
    LogSource: lambda spec, place, _url, _db: LogProgress(place, spec.pattern),
}


def make_head_source(config: Config) -> ProgressSource | None:
    """The independent chain head, or None (no catch-up, or each colour reports its own)."""
    spec = config.effective_head
    if spec is None:
        return None
    place = Place("head", spec.head_label, None, config.readiness.statement_timeout_ms)
    return KINDS[type(spec)](spec, place, spec.address(), config.head_db_url)


def make_candidate_source(config: Config, color: Color) -> ProgressSource | None:
    """A colour's own progress, or None for a service that does not re-index."""
    if not config.catchup:
        return None
    spec = config.candidate
    slot = config.slot(color)
    label = spec.candidate_label.format(color=color)
    place = Place("candidate", label, color, config.readiness.statement_timeout_ms)
    url = fill_url(spec.address(), slot.host_port, color, slot.container)
    return KINDS[type(spec)](spec, place, url, slot.sampling_db_url)


def make_task_source(config: Config, color: Color, endpoint: str) -> ProgressSource | None:
    """One replica's own progress, asked at its `endpoint` (HOST:PORT), for a source read over
    HTTP from the colour itself (a loopback URL): None for any other (a database, the logs, a
    URL elsewhere), which reads the colour as a whole."""
    if not config.catchup or not isinstance(config.candidate, FetchedSource):
        return None
    spec = config.candidate
    slot = config.slot(color)
    url = fill_url(spec.address(), slot.host_port, color, slot.container)
    retargeted = at_endpoint(url, endpoint)
    if retargeted == url:
        return None  # not the colour's own address: the same for every replica
    label = f"{spec.candidate_label.format(color=color)} at {endpoint}"
    place = Place("candidate", label, color, config.readiness.statement_timeout_ms)
    return KINDS[type(spec)](spec, place, retargeted, slot.sampling_db_url)
