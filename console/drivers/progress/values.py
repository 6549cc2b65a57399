"""Turning what a service answered into a height: numbers in their many spellings, dotted paths
into JSON, and min/max/sum over several values. Pure; every failure is a SourceUnavailable
sentence that names the source, says what came back, and which key to check."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from console.core.contracts.progress import SourceUnavailable

_SHOWN_CHARS = 40
_GROUPED = re.compile(r"-?\d{1,3}(?:[,_]\d{3})+")  # 12,345,600 (SubQuery logs) or 12_345_600


class NoHeightYet(Exception):
    """A JSON null on the way (the service has not started); not an error."""


def shown(value: object) -> str:
    """What came back, short enough for one sentence."""
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:4])
        return f"a JSON object (keys: {keys})" if keys else "an empty JSON object"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def as_height(value: object, name: str, check: str) -> int | None:
    """An int, an integral float/Decimal, a decimal string ("123", "12,345"), or a hex string
    ("0x1b4", JSON-RPC's quantity); None stays None. `name` = "The blue database"."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):  # True is not a height
        return value
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if _GROUPED.fullmatch(text):
            return int(re.sub(r"[,_]", "", text))
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
    raise SourceUnavailable(f"{name} returned {shown(value)}, not a height; check {check}.")


def walk(document: Any, path: str, name: str, check: str) -> list[Any]:
    """The value(s) at a dotted path: `a.b.0.c`; `*` takes every item of a list or every value of
    an object (Ponder's per-chain /status: `*.block.number`). A null on the way → NoHeightYet."""
    values: list[Any] = [document]
    walked: list[str] = []
    for part in (p for p in path.split(".") if p):
        following: list[Any] = []
        for value in values:
            if value is None:
                raise NoHeightYet
            following.extend(_step(value, part, walked, path, name, check))
        values = following
        walked.append(part)
    if any(v is None for v in values) and len(values) == 1:
        raise NoHeightYet
    return values


def _step(value: Any, part: str, walked: list[str], path: str, name: str, check: str) -> list[Any]:
    at = ".".join(walked) or "the top level"
    if part == "*":
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return list(value)
    elif isinstance(value, dict):
        if part in value:
            return [value[part]]
        keys = ", ".join(str(k) for k in list(value)[:6]) or "none"
        raise SourceUnavailable(
            f"{name} answer has no field '{path}': no '{part}' in {at} (its keys: {keys}); "
            f"check {check}."
        )
    elif isinstance(value, list) and part.lstrip("-").isdigit():
        index = int(part)
        if -len(value) <= index < len(value):
            return [value[index]]
        raise SourceUnavailable(
            f"{name} answer has no field '{path}': {at} has {len(value)} item(s), no "
            f"index {index}; check {check}."
        )
    raise SourceUnavailable(
        f"{name} answer has no field '{path}': {at} is {shown(value)}, which has no '{part}'; "
        f"check {check}."
    )


def spread(values: Iterable[Any]) -> list[Any]:
    """A last step that is itself a list or an object stands for its items (several values)."""
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        elif isinstance(value, dict):
            flat.extend(value.values())
        else:
            flat.append(value)
    return flat


def combine(heights: list[int | None], how: str, name: str, check_aggregate: str) -> int | None:
    """One height from several. `min` is None while any value is None (an index or chain that has
    not started holds the whole service back, as cometindex decides); max and sum skip them."""
    if not heights:
        return None
    if len(heights) == 1 and not how:
        return heights[0]
    if not how:
        raise SourceUnavailable(
            f'{name} gave {len(heights)} values; set {check_aggregate} = "min", "max" or '
            '"sum" to say how they make one height.'
        )
    known = [h for h in heights if h is not None]
    if how == "min":
        return None if len(known) < len(heights) else min(known)
    if not known:
        return None
    return max(known) if how == "max" else sum(known)
