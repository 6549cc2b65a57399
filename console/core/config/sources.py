"""The progress-source part of the configuration: `[head]`, `[candidate]` and readiness checks.

A source is a tagged union by `kind`: each kind is one frozen dataclass whose fields are exactly the
keys that kind accepts, so an unknown key is refused with a did-you-mean naming only that kind's
keys. Adding a kind is one dataclass here plus one driver class and table entry in
console/drivers/progress/.

URLs of candidate sources and readiness checks are templates: `{host_port}`, `{color}` and
`{container}` are filled in per colour (`http://127.0.0.1:{host_port}/status`).
"""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass
from typing import Any, Literal

from console.core import timeouts

Aggregate = Literal["", "min", "max", "sum"]  # "" = the reading must be a single value
HttpMethod = Literal["GET", "POST"]
URL_PLACEHOLDERS = ("host_port", "color", "container")
# What an explorer-shaped service reads when [head] or [candidate] gives no query (today's keys).
DEFAULT_HEAD_QUERY = "SELECT MAX(height) - 1 FROM blocks"
DEFAULT_CANDIDATE_QUERY = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


@dataclass(frozen=True)
class SqlSource:
    """One query on a PostgreSQL database; several rows need `aggregate`."""

    kind: Literal["sql"] = "sql"
    query: str = ""  # "" = the default query of its place (head or candidate)
    url: str = ""  # "" = head → the source database, candidate → the colour's database
    aggregate: Aggregate = ""


@dataclass(frozen=True)
class HttpSource:
    """A JSON document; `field` is a dotted path, list indices as numbers, `*` for every item."""

    kind: Literal["http"] = "http"
    url: str = ""
    method: HttpMethod = "GET"
    body: str = ""  # sent as is (JSON when it starts with { or [)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # values may be ${SECRET}
    field: str = ""
    head_field: str = ""  # candidate only: the chain head the service reports in the same answer
    aggregate: Aggregate = ""
    timeout_seconds: float = timeouts.HEIGHT_HTTP_SECONDS


@dataclass(frozen=True)
class JsonRpcSource:
    """POST {"jsonrpc":"2.0","id":1,"method":rpc_method,"params":params}; the value is `result`
    (or `field` inside it); a JSON-RPC `error` member is reported as such."""

    kind: Literal["jsonrpc"] = "jsonrpc"
    url: str = ""
    rpc_method: str = ""
    params: list[Any] = dataclasses.field(default_factory=list)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    field: str = ""  # "" = `result` itself
    head_field: str = ""  # candidate only, a path inside `result`
    aggregate: Aggregate = ""
    timeout_seconds: float = timeouts.HEIGHT_HTTP_SECONDS


@dataclass(frozen=True)
class PrometheusSource:
    """A text-format scrape; the value of `metric` among the series whose labels match `labels`."""

    kind: Literal["prometheus"] = "prometheus"
    url: str = ""
    metric: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    head_metric: str = ""  # candidate only: a gauge of the chain head in the same scrape
    aggregate: Aggregate = ""
    timeout_seconds: float = timeouts.HEIGHT_HTTP_SECONDS


@dataclass(frozen=True)
class LogSource:
    """Candidate only: the colour's container log; the last match of `pattern`'s one group."""

    kind: Literal["log"] = "log"
    pattern: str = ""


@dataclass(frozen=True)
class NoSource:
    """`[candidate] kind = "none"` (or no [candidate]): a service that does not re-index."""

    kind: Literal["none"] = "none"


HeadSource = SqlSource | HttpSource | JsonRpcSource | PrometheusSource
CandidateSource = SqlSource | HttpSource | JsonRpcSource | PrometheusSource | LogSource | NoSource
AnySource = HeadSource | CandidateSource


@dataclass(frozen=True)
class ReadinessCheck:
    """An extra yes/no condition, e.g. a `/ready` endpoint. It adds to the lag test (such flags
    are often sticky, or mean less than they say), never replaces it."""

    url: str = ""  # a template, e.g. http://127.0.0.1:{host_port}/ready
    expect_status: int = 200
    name: str = ""  # shown in the gate; "" = the URL's path


def fill_url(template: str, host_port: int, color: str, container: str) -> str:
    """The template with this colour's values (validated at load, so no KeyError here)."""
    values = {"host_port": str(host_port), "color": color, "container": container}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


def url_template_problem(template: str, key_path: str, per_colour: bool) -> str | None:
    """A sentence when `template` names an unknown placeholder (or any, where none applies)."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        names = set(_PLACEHOLDER.findall(template))
    unknown = sorted(n for n in names if n not in URL_PLACEHOLDERS)
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in URL_PLACEHOLDERS)
        return f"{key_path} uses {{{unknown[0]}}}: the placeholders are {allowed}"
    if names and not per_colour:
        return (
            f"{key_path} uses {{{sorted(names)[0]}}}, but the head is one for both colours: "
            "write a fixed URL"
        )
    return None


def source_problems(
    source: AnySource, key_path: str, where: Literal["head", "candidate"]
) -> list[str]:
    """What a source's keys lack for its kind, as sentence fragments naming the keys."""
    problems: list[str] = []
    per_colour = where == "candidate"
    if isinstance(source, HttpSource | JsonRpcSource | PrometheusSource):
        if not source.url:
            problems.append(f'{key_path}.kind = "{source.kind}" needs {key_path}.url')
        else:
            problem = url_template_problem(source.url, f"{key_path}.url", per_colour)
            if problem:
                problems.append(problem)
        if source.timeout_seconds <= 0:
            problems.append(f"{key_path}.timeout_seconds must be above 0")
    if isinstance(source, SqlSource) and source.url:
        problem = url_template_problem(source.url, f"{key_path}.url", per_colour)
        if problem:
            problems.append(problem)
    if isinstance(source, HttpSource) and not source.field:
        problems.append(f'{key_path}.kind = "http" needs {key_path}.field (a dotted path)')
    if isinstance(source, JsonRpcSource) and not source.rpc_method:
        problems.append(
            f'{key_path}.kind = "jsonrpc" needs {key_path}.rpc_method, e.g. "eth_blockNumber"'
        )
    if isinstance(source, PrometheusSource):
        if not _METRIC_NAME.fullmatch(source.metric):
            problems.append(f"{key_path}.metric must name a metric, e.g. sqd_processor_last_block")
        if source.head_metric and not _METRIC_NAME.fullmatch(source.head_metric):
            problems.append(f"{key_path}.head_metric is not a metric name")
    reports_head = getattr(source, "head_field", "") or getattr(source, "head_metric", "")
    if reports_head and not per_colour:
        problems.append(
            f"{key_path} is the head itself: head_field/head_metric belong in [candidate]"
        )
    if isinstance(source, LogSource):
        problems.extend(_log_pattern_problems(source.pattern, key_path))
    return problems


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _log_pattern_problems(pattern: str, key_path: str) -> list[str]:
    if not pattern:
        return [f'{key_path}.kind = "log" needs {key_path}.pattern, e.g. "height (\\d+)"']
    try:
        groups = re.compile(pattern).groups
    except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999} overflows
        return [f"{key_path}.pattern is not a valid regular expression ({exc})"]
    if groups != 1:
        return [
            f"{key_path}.pattern must have exactly one capture group (the height), it has {groups}"
        ]
    return []


def reported_head(source: CandidateSource) -> bool:
    """Whether the candidate's own answer carries a chain head (graph-node, SQD, SubQuery)."""
    return bool(getattr(source, "head_field", "") or getattr(source, "head_metric", ""))
