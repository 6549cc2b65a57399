"""A dataclass as plain data for JSON, as `dataclasses.asdict` gives it, at a fraction of the cost.

The agent publishes each colour's status every full tick; `asdict` walks every field through
`copy.deepcopy` and was a quarter of a full tick's time. The statuses are frozen dataclasses of
numbers, strings, enums, tuples and nested dataclasses, so the walk here only recurses into
dataclasses, tuples, lists and dicts and hands every other value over as it is (`asdict` copies
those, which JSON cannot tell apart). Meant for `json.dumps`: it writes the same text as after
`asdict` (tests/unit/test_store_plain.py compares them on every kind of status).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

# Handed over as they are; checked first because they are most of a status's fields.
_LEAVES: frozenset[type] = frozenset({str, int, float, bool, type(None)})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def plain(value: Any) -> Any:
    """`value` with every dataclass a dict, recursively: for `json.dumps`, like `asdict`."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    names = _FIELD_NAMES.get(kind)  # a dataclass seen before: the common case, asked first
    if names is None:
        if isinstance(value, (tuple, list)):  # JSON writes both as a list
            return [item if type(item) in _LEAVES else plain(item) for item in value]
        if isinstance(value, dict):
            return {plain(key): plain(item) for key, item in value.items()}
        if not is_dataclass(value) or isinstance(value, type):
            return value  # an enum, or anything else JSON writes by its own rule
        names = _field_names(kind)
    # Leaves inline: most fields are numbers and strings, and a call each was half the walk.
    result = {}
    for name in names:
        item = getattr(value, name)
        result[name] = item if type(item) in _LEAVES else plain(item)
    return result
