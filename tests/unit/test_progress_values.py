"""The one reader of heights for every source kind: spellings of numbers, paths, aggregates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from console.core.contracts.progress import SourceUnavailable
from console.drivers.progress.values import NoHeightYet, as_height, combine, spread, walk

NAME, CHECK = "The x endpoint", "candidate.field"


@pytest.mark.parametrize(
    ("value", "height"),
    [
        (436, 436),
        ("436", 436),
        (" 436 ", 436),
        ("0x1b4", 436),
        ("0X1B4", 436),
        ("12,345,600", 12_345_600),
        ("12_345_600", 12_345_600),
        (436.0, 436),
        (Decimal("436"), 436),
        ("4.36e2", 436),
        (None, None),
    ],
)
def test_heights_in_every_spelling(value: object, height: int | None) -> None:
    assert as_height(value, NAME, CHECK) == height


@pytest.mark.parametrize("value", [True, 1.5, "1,23", "0x", "nan", "inf", "", [1], {"a": 1}])
def test_what_is_not_a_height_is_named(value: object) -> None:
    with pytest.raises(
        SourceUnavailable,
        match=r"^The x endpoint returned .*, not a height; check candidate\.field\.$",
    ):
        as_height(value, NAME, CHECK)


def test_walk_paths_indices_and_stars() -> None:
    doc = {"a": [{"b": 1}, {"b": 2}], "c": {"x": {"n": 5}, "y": {"n": 7}}, "z": None}
    assert walk(doc, "a.1.b", NAME, CHECK) == [2]
    assert walk(doc, "a.-1.b", NAME, CHECK) == [2]
    assert walk(doc, "a.*.b", NAME, CHECK) == [1, 2]
    assert walk(doc, "c.*.n", NAME, CHECK) == [5, 7]
    assert spread(walk(doc, "a", NAME, CHECK)) == [{"b": 1}, {"b": 2}]
    with pytest.raises(NoHeightYet):
        walk(doc, "z.n", NAME, CHECK)
    with pytest.raises(SourceUnavailable, match=r"a\.0 is 1, which has no 'q'"):
        walk({"a": [1]}, "a.0.q", NAME, CHECK)


def test_combine() -> None:
    assert combine([5], "", NAME, "candidate.aggregate") == 5
    assert combine([], "", NAME, "candidate.aggregate") is None
    assert combine([5, 3, None], "min", NAME, "x") is None  # one not started holds all back
    assert combine([5, 3], "min", NAME, "x") == 3
    assert combine([5, 3, None], "max", NAME, "x") == 5
    assert combine([5, 3, None], "sum", NAME, "x") == 8
    assert combine([None, None], "max", NAME, "x") is None
    with pytest.raises(SourceUnavailable, match=r"gave 2 values; set candidate\.aggregate"):
        combine([5, 3], "", NAME, "candidate.aggregate")
