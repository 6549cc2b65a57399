"""The `[[parity]]` part of the configuration: named checks run against both colours at one height.

Each entry is a tagged union by `kind`, like the progress sources (sources.py): the
dataclass's fields are exactly the keys that kind accepts. Adding a kind is one dataclass here plus
one class and table entry in console/drivers/parity/.

`{height}` is the pinned height H = min(blue height, green height) − `readiness.parity_margin`.
In an `sql` query it is bound as a parameter (never formatted into the text); in an `http` URL or
body it is the decimal number. URLs are templates like a candidate's: `{host_port}`, `{color}`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

from console.core import timeouts
from console.core.config.sources import (
    URL_PLACEHOLDERS,
    HttpMethod,
    NoSource,
    SourceSpec,
    asked_kinds,
)

HEIGHT_PLACEHOLDER = "{height}"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,63}")


@dataclass(frozen=True)
class SqlParity:
    """One query on each colour's database; the rows it returns at H are compared."""

    kind: Literal["sql"] = "sql"
    name: str = ""
    query: str = ""  # e.g. SELECT root FROM explorer_block_details WHERE height = {height}


@dataclass(frozen=True)
class HttpParity:
    """One request to each colour's own port; the JSON answers (or one `field` of them) compared."""

    kind: Literal["http"] = "http"
    name: str = ""
    url: str = ""  # a template: http://127.0.0.1:{host_port}/graphql
    method: HttpMethod = "POST"
    body: str = ""  # may hold {height}; sent as JSON when it starts with { or [
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # values may be ${SECRET}
    field: str = ""  # a dotted path (as a progress source's `field`); "" = the whole JSON answer
    timeout_seconds: float = timeouts.HEIGHT_HTTP_SECONDS


ParityCheck = SqlParity | HttpParity


def parity_problems(checks: list[ParityCheck], candidate: SourceSpec) -> list[str]:
    """What the [[parity]] entries lack, as phrases naming their keys; `candidate` is the source
    that reads each colour's height (the readiness.parity_* keys are checked in checks.py)."""
    problems: list[str] = []
    if checks and isinstance(candidate, NoSource):
        problems.append(
            "[[parity]] compares the colours at a height, and there is no [candidate] to read "
            "each colour's height from: add a [candidate] source or remove [[parity]]"
        )
    elif checks and not candidate.asked_on_demand:
        problems.append(
            f"[[parity]] reads each colour's height on demand, which a [candidate] kind = "
            f'"{candidate.kind}" cannot give: use a source that can be asked ({asked_kinds()})'
        )
    seen: set[str] = set()
    for index, check in enumerate(checks):
        where = f"parity[{index}]"
        if not _NAME.fullmatch(check.name):
            problems.append(f'{where}.name must name the check, e.g. "block hash"')
        elif check.name in seen:
            problems.append(f"{where}.name '{check.name}' is used twice: names must differ")
        seen.add(check.name)
        if isinstance(check, SqlParity):
            if not check.query.strip():
                problems.append(f'{where}.kind = "sql" needs {where}.query')
            elif HEIGHT_PLACEHOLDER not in check.query:
                problems.append(f"{where}.query must use {{height}} (bound as a parameter)")
        else:
            problems += _http_problems(check, where)
    return problems


def _http_problems(check: HttpParity, where: str) -> list[str]:
    problems: list[str] = []
    if not check.url:
        problems.append(f'{where}.kind = "http" needs {where}.url')
    allowed = {*URL_PLACEHOLDERS, "height"}
    for key, text in (("url", check.url), ("body", check.body)):
        unknown = sorted({n for n in re.findall(r"\{([A-Za-z_]+)\}", text) if n not in allowed})
        if unknown:
            names = ", ".join("{" + p + "}" for p in sorted(allowed))
            problems.append(f"{where}.{key} uses {{{unknown[0]}}}: the placeholders are {names}")
    if HEIGHT_PLACEHOLDER not in check.url + check.body:
        problems.append(f"{where} must pin the height: put {{height}} in its url or body")
    if check.timeout_seconds <= 0:
        problems.append(f"{where}.timeout_seconds must be above 0")
    return problems
