"""The progress-source part of the configuration: `[head]`, `[candidate]` and readiness checks.

A source is tagged by `kind`: each kind is one frozen dataclass whose fields are exactly the keys
that kind accepts, so an unknown key is refused with a did-you-mean naming only that kind's keys.
The same class says what the rest of the house needs of its kind: the subject of its sentences
(`head_label`, `candidate_label`), the URL it reads (`address()`), the checks on its own keys
(`problems()`), whether it reports the chain head itself, whether it can be asked for a height at
a given moment. `SPECS` lists the kinds; coerce reads it through `kinds()` to parse a table.

A new progress kind:
1. here, a frozen dataclass subclassing `HeadSpec` (it can read the chain head as well as a
   colour's height) or `SourceSpec` (a colour's height only), with `kind: Literal["x"] = "x"`,
   its keys as fields, its labels and a `problems()` for what its keys lack;
2. its row in `SPECS`;
3. a module in console/drivers/progress/ with its source class, and its row in that package's
   `KINDS` (spec class → builder).
Nothing else changes: not coerce, not the config checks, not the agent, the gate or the console.

URLs of candidate sources and readiness checks are templates: `{host_port}`, `{color}` and
`{container}` are filled in per colour (`http://127.0.0.1:{host_port}/status`).
"""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from console.core import timeouts

Aggregate = Literal["", "min", "max", "sum"]  # "" = the reading must be a single value
HttpMethod = Literal["GET", "POST"]
URL_PLACEHOLDERS = ("host_port", "color", "container")
# What an explorer-shaped service reads when [head] or [candidate] gives no query (today's keys).
DEFAULT_HEAD_QUERY = "SELECT MAX(height) - 1 FROM blocks"
DEFAULT_CANDIDATE_QUERY = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


class SourceSpec:
    """What every progress kind's spec says about itself; `[candidate]` may name any of them.
    Subclasses are frozen dataclasses whose `kind` field is the TOML tag."""

    kind: str
    # The subject of a colour's sentences, {color} filled in: "The green database is unreachable".
    candidate_label: ClassVar[str] = ""
    # [[parity]] asks each colour's height at a moment it chooses; a log can only be listened to.
    asked_on_demand: ClassVar[bool] = True
    # For a kind that cannot read the head: why, said when [head] names it.
    candidate_only_because: ClassVar[str] = ""
    # It queries a PostgreSQL database: the one `address()` names, "" = its place's (the source's
    # for the head, the colour's for a candidate), which must then be configured.
    queries_database: ClassVar[bool] = False

    def address(self) -> str:
        """The URL (a template for a candidate) it reads; "" = none, or its place's default."""
        return ""

    def reports_head(self) -> bool:
        """Whether a candidate's own answer carries a chain head (graph-node, SQD, SubQuery)."""
        return False

    def problems(self, key_path: str, per_colour: bool) -> list[str]:
        """What its keys lack, as phrases naming them; `per_colour`: URL placeholders allowed."""
        return []

    @classmethod
    def kinds(cls) -> list[type[SourceSpec]]:
        """The kinds a table of this class may name, the default first (coerce's tag table)."""
        return [spec for spec in SPECS.values() if issubclass(spec, cls)]

    @classmethod
    def misplaced(cls, kind: str) -> str:
        """Said after "is not allowed" when a table names a kind that belongs elsewhere."""
        spec = SPECS.get(kind)
        if spec is None or issubclass(spec, cls) or not spec.candidate_only_because:
            return ""
        return f" ({kind!r} {spec.candidate_only_because}: [candidate] only)"


class HeadSpec(SourceSpec):
    """A kind that can also read the chain head: `[head]` may name it."""

    head_label: ClassVar[str] = ""  # "The source database is unreachable …"


@dataclass(frozen=True)
class SqlSource(HeadSpec):
    """One query on a PostgreSQL database; several rows need `aggregate`."""

    head_label: ClassVar[str] = "source database"
    candidate_label: ClassVar[str] = "{color} database"
    queries_database: ClassVar[bool] = True

    kind: Literal["sql"] = "sql"
    query: str = ""  # "" = the default query of its place (head or candidate)
    url: str = ""  # "" = head → the source database, candidate → the colour's database
    aggregate: Aggregate = ""

    def address(self) -> str:
        return self.url

    def problems(self, key_path: str, per_colour: bool) -> list[str]:
        problem = self.url and url_template_problem(self.url, f"{key_path}.url", per_colour)
        return [problem] if problem else []


@dataclass(frozen=True)
class FetchedSource(HeadSpec):
    """What the kinds read over HTTP share: a URL, headers (values may be ${SECRET}), a timeout."""

    url: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    aggregate: Aggregate = ""
    timeout_seconds: float = timeouts.HEIGHT_HTTP_SECONDS

    def address(self) -> str:
        return self.url

    def problems(self, key_path: str, per_colour: bool) -> list[str]:
        problems: list[str] = []
        if not self.url:
            problems.append(f'{key_path}.kind = "{self.kind}" needs {key_path}.url')
        else:
            problem = url_template_problem(self.url, f"{key_path}.url", per_colour)
            if problem:
                problems.append(problem)
        if self.timeout_seconds <= 0:
            problems.append(f"{key_path}.timeout_seconds must be above 0")
        problems += self.key_problems(key_path)
        if self.reports_head() and not per_colour:
            problems.append(
                f"{key_path} is the head itself: head_field/head_metric belong in [candidate]"
            )
        return problems

    def key_problems(self, key_path: str) -> list[str]:
        """What this kind's own keys lack (its URL and timeout are checked above)."""
        return []


@dataclass(frozen=True)
class JsonAnswerSource(FetchedSource):
    """What the kinds answering JSON share: `field` is a dotted path in the answer, list indices
    as numbers, `*` for every item; `head_field` (candidate only) the chain head the service
    reports in the same answer."""

    field: str = ""
    head_field: str = ""

    def reports_head(self) -> bool:
        return bool(self.head_field)


@dataclass(frozen=True)
class HttpSource(JsonAnswerSource):
    """A JSON document, read at `field`."""

    head_label: ClassVar[str] = "chain head endpoint"
    candidate_label: ClassVar[str] = "{color} progress endpoint"

    kind: Literal["http"] = "http"
    method: HttpMethod = "GET"
    body: str = ""  # sent as is (JSON when it starts with { or [)

    def key_problems(self, key_path: str) -> list[str]:
        if self.field:
            return []
        return [f'{key_path}.kind = "http" needs {key_path}.field (a dotted path)']


@dataclass(frozen=True)
class JsonRpcSource(JsonAnswerSource):
    """POST {"jsonrpc":"2.0","id":1,"method":rpc_method,"params":params}; the value is `result`
    (or `field` inside it, "" = `result` itself; `head_field` too is a path inside `result`); a
    JSON-RPC `error` member is reported as such."""

    head_label: ClassVar[str] = "chain head RPC endpoint"
    candidate_label: ClassVar[str] = "{color} RPC endpoint"

    kind: Literal["jsonrpc"] = "jsonrpc"
    rpc_method: str = ""
    params: list[Any] = dataclasses.field(default_factory=list)

    def key_problems(self, key_path: str) -> list[str]:
        if self.rpc_method:
            return []
        return [f'{key_path}.kind = "jsonrpc" needs {key_path}.rpc_method, e.g. "eth_blockNumber"']


@dataclass(frozen=True)
class PrometheusSource(FetchedSource):
    """A text-format scrape; the value of `metric` among the series whose labels match `labels`."""

    head_label: ClassVar[str] = "chain head metrics endpoint"
    candidate_label: ClassVar[str] = "{color} metrics endpoint"

    kind: Literal["prometheus"] = "prometheus"
    metric: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    head_metric: str = ""  # candidate only: a gauge of the chain head in the same scrape

    def reports_head(self) -> bool:
        return bool(self.head_metric)

    def key_problems(self, key_path: str) -> list[str]:
        problems: list[str] = []
        if not _METRIC_NAME.fullmatch(self.metric):
            problems.append(f"{key_path}.metric must name a metric, e.g. sqd_processor_last_block")
        if self.head_metric and not _METRIC_NAME.fullmatch(self.head_metric):
            problems.append(f"{key_path}.head_metric is not a metric name")
        return problems


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class LogSource(SourceSpec):
    """Candidate only: the colour's container log; the last match of `pattern`'s one group."""

    candidate_label: ClassVar[str] = "{color} container log"
    asked_on_demand: ClassVar[bool] = False
    candidate_only_because: ClassVar[str] = "reads a colour's container"

    kind: Literal["log"] = "log"
    pattern: str = ""

    def problems(self, key_path: str, per_colour: bool) -> list[str]:
        if not self.pattern:
            return [f'{key_path}.kind = "log" needs {key_path}.pattern, e.g. "height (\\d+)"']
        try:
            groups = re.compile(self.pattern).groups
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999} overflows
            return [f"{key_path}.pattern is not a valid regular expression ({exc})"]
        if groups != 1:
            return [
                f"{key_path}.pattern must have exactly one capture group (the height), "
                f"it has {groups}"
            ]
        return []


@dataclass(frozen=True)
class NoSource(SourceSpec):
    """`[candidate] kind = "none"` (or no [candidate]): a service that does not re-index."""

    asked_on_demand: ClassVar[bool] = False

    kind: Literal["none"] = "none"


# Every kind by its tag; the first is the default of a table that names none.
SPECS: dict[str, type[SourceSpec]] = {
    spec.kind: spec
    for spec in (SqlSource, HttpSource, JsonRpcSource, PrometheusSource, LogSource, NoSource)
}


def asked_kinds() -> str:
    """The kinds [[parity]] can ask for a height, for its sentence: "sql, http, …"."""
    return ", ".join(kind for kind, spec in SPECS.items() if spec.asked_on_demand)


@dataclass(frozen=True)
class ReadinessCheck:
    """An extra yes/no condition, e.g. a `/ready` endpoint. It adds to the lag test (such flags
    are often sticky, or mean less than they say), never replaces it."""

    url: str = ""  # a template, e.g. http://127.0.0.1:{host_port}/ready
    expect_status: int = 200
    name: str = ""  # shown in the gate; "" = the URL's path


def at_endpoint(url: str, endpoint: str) -> str:
    """`url` asked of one replica at `endpoint` (HOST:PORT) when it was written for this host
    (a loopback address); any other URL is the same for every replica."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return url
    return urlunsplit(parts._replace(netloc=endpoint))


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
