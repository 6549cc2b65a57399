"""`bluegreen config check --probe`: read each configured progress source once and print what it
got, so an operator sees a wrong field, metric or URL before the first deploy.

A colour whose container is not running is not probed (its port answers nothing yet); a source
that fails is printed as its sentence and makes the exit code 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from console.core.config.schema import Config
from console.core.contracts.progress import (
    ProgressSource,
    Reading,
    SourceUnavailable,
    SourceUnreachable,
)
from console.core.model import COLORS, Color
from console.core.redact import Redactor, sanitize_log_line
from console.drivers.progress import make_candidate_source, make_head_source

LOG_LINES_READ = 2000


@dataclass(frozen=True)
class ProbeLine:
    who: str  # "head", "blue", "green"
    text: str
    failed: bool = False


def probe(
    config: Config, is_running: Callable[[str], bool | None] | None = None
) -> list[ProbeLine]:
    """One line per source. `is_running(container)` defaults to asking Docker."""
    running = is_running or _running
    redactor = Redactor(config.secret_values)
    found = (_probe_log_pattern(config, color, redactor, running) for color in COLORS)
    patterns = [line for line in found if line is not None]
    if not config.catchup:
        nothing = "no [candidate]: a service that does not re-index, nothing to read"
        return [ProbeLine("—", nothing), *patterns]
    return _probe_sources(config, redactor, running) + patterns


def _probe_sources(
    config: Config, redactor: Redactor, running: Callable[[str], bool | None]
) -> list[ProbeLine]:
    lines: list[ProbeLine] = []
    head_value: int | None = None
    head = make_head_source(config)
    if head is None:
        lines.append(ProbeLine("head", "none configured: each colour's own reported head is used"))
    else:
        try:
            head_value = head.read().height
            lines.append(ProbeLine("head", f"{_kind(config, 'head')}: {_number(head_value)}"))
        except SourceUnavailable as exc:
            lines.append(ProbeLine("head", redactor.redact(str(exc)), failed=True))
        finally:
            head.close()
    for color in COLORS:
        lines.append(_probe_colour(config, color, head_value, redactor, running))
    return lines


def _probe_colour(
    config: Config,
    color: Color,
    head: int | None,
    redactor: Redactor,
    is_running: Callable[[str], bool | None],
) -> ProbeLine:
    container = config.slot(color).container
    running = is_running(container)
    source = make_candidate_source(config, color)
    assert source is not None  # catch-up is on
    try:
        if source.reads_logs:
            if running is False:
                return ProbeLine(color, f"container {container} is not running: no log to read")
            _feed_recent_logs(source, container, redactor)
        reading = source.read()
    except SourceUnreachable as exc:
        if running is False:  # its port (or database) not answering is expected
            return ProbeLine(color, f"container {container} is not running: not probed")
        return ProbeLine(color, redactor.redact(str(exc)), failed=True)
    except SourceUnavailable as exc:
        return ProbeLine(color, redactor.redact(str(exc)), failed=True)
    finally:
        source.close()
    return ProbeLine(color, f"{_kind(config, 'candidate')}: {_describe(reading, head)}")


def _probe_log_pattern(
    config: Config,
    color: Color,
    redactor: Redactor,
    is_running: Callable[[str], bool | None],
) -> ProbeLine | None:
    """Whether the colour's recent logs hold readiness.log_pattern (None: no pattern set). Not
    seen is no failure — a colour still catching up has not logged it — but says so plainly."""
    pattern = config.readiness.log_pattern
    if not pattern:
        return None
    container = config.slot(color).container
    label = f'log_pattern "{pattern}"'
    if is_running(container) is False:
        return ProbeLine(color, f"{label}: container {container} is not running, no log to read")
    try:
        from console.drivers.docker.runtime import DockerRuntime

        raw_lines = DockerRuntime().logs(container, tail=LOG_LINES_READ)
    except Exception as exc:
        return ProbeLine(color, f"{label}: the {container} logs cannot be read ({exc})", True)
    compiled = re.compile(pattern)
    lines = [sanitize_log_line(raw, redactor) for raw in raw_lines]
    if any(compiled.search(line) for line in lines):
        return ProbeLine(color, f"{label}: seen in its last {len(lines):,} log lines")
    return ProbeLine(
        color,
        f"{label}: not seen in its last {len(lines):,} log lines — the gate waits for it; "
        "check the pattern against what the service logs once caught up",
    )


def _describe(reading: Reading, head: int | None) -> str:
    if reading.height is None:
        text = "no height yet (the service has not started indexing)"
    else:
        text = f"height {_number(reading.height)}"
    reference = head if head is not None else reading.head
    if reading.head is not None:
        text += f"; its own reported head {_number(reading.head)}"
    if reading.height is not None and reference is not None:
        text += f"; lag {_number(reference - reading.height)}"
    return text


def _running(container: str) -> bool | None:
    """Whether the container runs; None when Docker cannot tell (probe anyway)."""
    try:
        from console.drivers.docker.runtime import DockerRuntime

        info = DockerRuntime().inspect(container)
    except Exception:
        return None
    return info is not None and info.running


def _feed_recent_logs(source: ProgressSource, container: str, redactor: Redactor) -> None:
    from console.drivers.docker.runtime import DockerRuntime

    try:
        raw_lines = DockerRuntime().logs(container, tail=LOG_LINES_READ)
    except Exception as exc:
        raise SourceUnavailable(f"The {container} logs cannot be read ({exc}).") from None
    for raw in raw_lines:
        source.feed_line(sanitize_log_line(raw, redactor))


def _kind(config: Config, where: str) -> str:
    spec = config.effective_head if where == "head" else config.candidate
    return spec.kind if spec is not None else "none"


def _number(value: int | None) -> str:
    return "none yet" if value is None else f"{value:,}"
