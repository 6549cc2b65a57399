"""`isinstance` against a runtime-checkable Protocol, decided once per class of ours.

typing's check walks every member of the Protocol at each call (about 10 µs on Python 3.11), and
the agent asks it of the same runtime on every read of every colour (is it a Swarm? does it
follow the engine's events?). A class of this package has its methods on the class, so the
answer is the same for all its instances and is kept per (class, protocol). Anything else (a
test's namespace, whose methods are its own attributes) is checked each time, as before.
"""

from __future__ import annotations

from typing import TypeGuard, TypeVar

T = TypeVar("T")
_KNOWN: dict[tuple[type, type], bool] = {}


def offers(obj: object, protocol: type[T]) -> TypeGuard[T]:
    """`isinstance(obj, protocol)` for a runtime-checkable Protocol, kept per class."""
    cls = type(obj)
    if not cls.__module__.startswith("console."):
        return isinstance(obj, protocol)
    key = (cls, protocol)
    known = _KNOWN.get(key)
    if known is None:
        known = _KNOWN[key] = isinstance(obj, protocol)
    return known
