"""Parity: is the candidate's data the same as the live colour's, at one pinned height?

Both colours answer `/health` and both are at the head, yet a release with an indexing bug serves
different data. So each `[[parity]]` check reads the same thing from both colours at the same
height H = min(blue height, green height) − margin, and says match, differ (with both values,
shortened and redacted) or error. A colour that cannot be read is an error, never a match.

Pure: the probes (one per check, console/drivers/parity/) and the heights are given; this module
compares, shortens and phrases. It never caches a report across heights: every `run_parity` reads
anew, so the switch samples at its own moment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from console.core.colors import COLORS, Color
from console.core.contracts.progress import SourceUnavailable

ParityOutcome = Literal["match", "differ", "error"]
SHOWN_CHARS = 60  # a value longer than this is shortened in every sentence and in JSON


class NoValue(SourceUnavailable):
    """A colour had nothing at H (no row, a JSON null): compared, but never as a match of two."""


class ParityProbe(Protocol):
    """One configured check, for any colour: the value it reads there at `height`."""

    name: str
    kind: str

    def value(self, color: Color, height: int) -> object:
        """The comparable value (JSON-shaped); raises SourceUnavailable as a sentence."""
        ...

    def close(self) -> None: ...


class ParitySampler(Protocol):
    """Reads both colours' heights, pins H and runs every check (built outside the core)."""

    def run(self, not_serving: Mapping[Color, str] | None = None) -> ParityReport: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ParityResult:
    name: str
    result: ParityOutcome
    blue: str | None = None  # the value read from blue (shortened, redacted); None = not read
    green: str | None = None
    detail: str = ""  # why an error, or how they differ; one redacted sentence


@dataclass(frozen=True, slots=True)
class ParityReport:
    height: int | None  # the pinned H; None when a colour's height could not be read
    margin: int
    checks: tuple[ParityResult, ...]
    at: float  # when it was sampled (wall clock)
    blue_height: int | None = None
    green_height: int | None = None
    error: str | None = None  # why no height could be pinned

    @property
    def all_match(self) -> bool:
        return bool(self.checks) and all(c.result == "match" for c in self.checks)

    def first_problem(self) -> ParityResult | None:
        return next((c for c in self.checks if c.result != "match"), None)


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def canonical(value: object) -> str:
    """One spelling per value, so equal data compares equal (key order, int vs float)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def pinned_height(heights: Mapping[Color, int | None], margin: int) -> int | None:
    known = [h for h in heights.values() if h is not None]
    if len(known) < len(COLORS):
        return None
    return max(0, min(known) - margin)


def run_parity(
    probes: Sequence[ParityProbe],
    heights: Mapping[Color, int | None],
    margin: int,
    redact: Callable[[str], str],
    not_serving: Mapping[Color, str] | None = None,
    height_errors: Mapping[Color, str] | None = None,
    now: Callable[[], float] = time.time,
) -> ParityReport:
    """Every check at H on both colours. A colour named in `not_serving` (its container is not
    running) or without a height makes every check an error."""
    not_serving = dict(not_serving or {})
    height = pinned_height(heights, margin)
    problem = _height_problem(heights, not_serving, dict(height_errors or {}))
    if problem is not None or height is None:
        why = redact(problem or "a colour's height is unknown")
        results = tuple(ParityResult(p.name, "error", detail=why) for p in probes)
        return ParityReport(
            None, margin, results, now(), heights.get("blue"), heights.get("green"), why
        )
    results = tuple(_compare(probe, height, redact) for probe in probes)
    return ParityReport(height, margin, results, now(), heights["blue"], heights["green"])


def _height_problem(
    heights: Mapping[Color, int | None], not_serving: dict[Color, str], errors: dict[Color, str]
) -> str | None:
    for color in COLORS:
        if color in not_serving:
            return f"{color} cannot be compared: {not_serving[color]}"
        if color in errors:
            return f"{color}'s height cannot be read: {errors[color]}"
        if heights.get(color) is None:
            return f"{color} has no height yet"
    return None


def _compare(probe: ParityProbe, height: int, redact: Callable[[str], str]) -> ParityResult:
    read: dict[Color, str | None] = {}
    missing: list[Color] = []
    for color in COLORS:
        try:
            read[color] = redact(canonical(probe.value(color, height)))
        except NoValue:
            read[color] = None
            missing.append(color)
        except SourceUnavailable as exc:
            return ParityResult(probe.name, "error", detail=redact(f"{color}: {exc}"))
    blue, green = read["blue"], read["green"]
    shown_blue = None if blue is None else shorten(blue)
    shown_green = None if green is None else shorten(green)
    if len(missing) == len(COLORS):
        # Neither colour has data at a height both claim to have indexed: nothing was compared.
        detail = f"neither colour has a value at height {height}"
        return ParityResult(probe.name, "error", None, None, detail)
    if missing:
        detail = f"{missing[0]} has no value at height {height}"
        return ParityResult(probe.name, "differ", shown_blue, shown_green, detail)
    if blue == green:
        return ParityResult(probe.name, "match", shown_blue, shown_green)
    detail = f"at height {height}: blue {shown_blue!r}, green {shown_green!r}"
    return ParityResult(probe.name, "differ", shown_blue, shown_green, detail)


def summary(report: ParityReport) -> str:
    """One sentence: 'parity at 1234: 2 of 2 match' or which check failed and both values."""
    if report.height is None:
        return f"parity not compared: {report.error or 'no height'}"
    total = len(report.checks)
    matched = sum(1 for c in report.checks if c.result == "match")
    if matched == total:
        return f"parity at height {report.height}: {matched} of {total} match"
    bad = report.first_problem()
    assert bad is not None
    if bad.result == "differ":
        values = f"blue {_shown(bad.blue)}, green {_shown(bad.green)}"
        return f"parity at height {report.height}: {bad.name!r} differs ({values})"
    return f"parity at height {report.height}: {bad.name!r} could not be read ({bad.detail})"


def _shown(value: str | None) -> str:
    return "nothing" if value is None else repr(value)


def report_lines(report: ParityReport, now: float | None = None) -> list[str]:
    """The report as the confirmation and `status` show it: H, then one line per check."""
    age = ""
    if now is not None:
        age = f", sampled {max(0.0, now - report.at):.0f} s ago"
    if report.height is None:
        head = f"Parity: not compared ({report.error or 'no height'}){age}"
        return [head, *(f"  ✗ {c.name}: error" for c in report.checks)]
    heights = f"min(blue {report.blue_height}, green {report.green_height}) − {report.margin}"
    lines = [f"Parity at height {report.height} = {heights}{age}"]
    mark = {"match": "✓", "differ": "✗", "error": "!"}
    for check in report.checks:
        if check.result == "match":
            text = f"match ({_shown(check.blue)})"
        elif check.result == "differ":
            text = f"DIFFERS: blue {_shown(check.blue)}, green {_shown(check.green)}"
        else:
            text = f"error: {check.detail}"
        lines.append(f"  {mark[check.result]} {check.name}: {text}")
    return lines


def report_json(report: ParityReport) -> dict[str, object]:
    """`bluegreen parity --json` and `status --json`'s "parity"."""
    return {
        "height": report.height,
        "margin": report.margin,
        "heights": {"blue": report.blue_height, "green": report.green_height},
        "at": report.at,
        "error": report.error,
        "all_match": report.all_match,
        "checks": [
            {
                "name": c.name,
                "result": c.result,
                "blue": c.blue,
                "green": c.green,
                "detail": c.detail,
            }
            for c in report.checks
        ],
    }


def report_from_json(data: object) -> ParityReport | None:
    """The stored form back (as SlotStatus carries it); None when it is not one."""
    if not isinstance(data, dict):
        return None
    try:
        checks = tuple(ParityResult(**c) for c in data.get("checks", ()))
        return ParityReport(
            height=data.get("height"),
            margin=int(data.get("margin", 0)),
            checks=checks,
            at=float(data.get("at", 0.0)),
            blue_height=data.get("blue_height"),
            green_height=data.get("green_height"),
            error=data.get("error"),
        )
    except (TypeError, ValueError):
        return None


def newest(reports: Sequence[ParityReport | None]) -> ParityReport | None:
    """The latest of the reports published with each colour's status."""
    known = [r for r in reports if r is not None]
    return max(known, key=lambda r: r.at) if known else None
