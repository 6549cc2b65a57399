"""The overview's rows without a screen: what a row says for each situation, and the layout that
keeps every line within the terminal's width (80 columns included)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from console.core.measures.traffic import TrafficFigures
from console.core.model import AgentInfo, LockHolder, SlotState, SlotStatus, Status
from console.tui.widgets.fleet_rows import Reading, row_for
from console.tui.widgets.fleet_table import layout

NOW = 1_750_000_000.0


def status(green: SlotStatus, **changes: object) -> Status:
    blue = SlotStatus("blue", SlotState.LIVE, "app:v1.24.3", "v1.24.3",
                      traffic=TrafficFigures(rps=1234.0, error_rate=0.02, p99_ms=85.0))  # fmt: skip
    base = Status("web", "blue", None, {"blue": blue, "green": green},
                  AgentInfo(True, 1, NOW - 60, NOW - 1), None, at=NOW)  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


SYNCING = SlotStatus("green", SlotState.SYNCING, "app:v2", "v2", progress=0.62, eta_seconds=845.0)


def test_a_syncing_idle_colour_says_its_progress_and_eta() -> None:
    row = row_for(Reading("web", status(SYNCING)), NOW, 0.0, 3.0)
    text = [cell.plain for cell in row.cells]
    assert text[1] == "● blue v1.24.3"
    assert text[2] == "● syncing 62 % · ETA 14m05s"
    assert text[4] == "1,234/s 2.0% 85ms"
    compact = row_for(Reading("web", status(SYNCING)), NOW, 0.0, 3.0, compact=True)
    assert compact.cells[2].plain == "● syncing 62% 14m05s"
    assert row.alerts == ()


def test_alerts_name_what_is_wrong_and_the_detail_says_it_whole() -> None:
    stalled = replace(SYNCING, state=SlotState.FAILED, reason="Stalled at height 9 for 600 s.")
    reading = Reading("web", status(stalled, agent=AgentInfo(False, None, None, None)))
    reading.drift_at, reading.asked_at = NOW - 60, 100.0
    row = row_for(reading, NOW, 112.0, 3.0)
    assert row.alerts == ("no answer 12s", "agent stopped", "stalled", "drift")
    assert "has not answered for 12s" in row.detail.plain
    assert "Stalled at height 9" in row.detail.plain


def test_a_lock_and_a_skipped_file() -> None:
    locked = status(SYNCING, lock=LockHolder("carol", "deploy", NOW - 5, 42))
    assert row_for(Reading("web", locked), NOW, 0.0, 3.0).cells[6].plain == "carol deploy"
    skipped = row_for(Reading("bad", skipped="Service bad skipped: port."), NOW, 0.0, 3.0)
    assert skipped.alerts == ("skipped",) and "port." in skipped.detail.plain
    assert skipped.matches("port") and not skipped.matches("web")


@pytest.mark.parametrize("width", [60, 80, 100, 109, 110, 140, 200])
def test_every_line_fits_the_width(width: int) -> None:
    readings = [
        Reading("a-rather-long-service-name", status(SYNCING)),
        Reading("web", status(SYNCING, lock=LockHolder("someone-long", "deploy", NOW, 1))),
        Reading("bad", skipped="Service bad skipped: " + "x" * 200),
    ]
    rows = [row_for(r, NOW, 0.0, 3.0, compact=width < 110) for r in readings]
    header, lines = layout(rows, width)
    assert header.cell_length <= width
    assert all(line.cell_length <= width for line in lines)
    assert ("NOTES" in header.plain) is (width < 110)


def test_layout_keeps_a_rows_line_only_while_the_row_and_the_widths_are_the_same() -> None:
    readings = [
        Reading("a-rather-long-service-name", status(SYNCING)),
        Reading("web", status(SYNCING, lock=LockHolder("carol", "deploy", NOW, 1))),
    ]
    rows = [row_for(r, NOW, 0.0, 3.0) for r in readings]
    kept: dict[str, Any] = {}
    header, laid = layout(rows, 140, kept)
    assert (header, laid) == layout(rows, 140)
    _, again = layout(list(reversed(rows)), 140, kept)  # a new order: the same line objects
    assert again[0] is laid[1] and again[1] is laid[0]
    _, alone = layout(rows[1:], 140, kept)  # the long name filtered out: narrower columns
    assert alone == layout(rows[1:], 140)[1] and alone[0] is not laid[1]
    fresh = row_for(Reading("web", status(SYNCING)), NOW, 0.0, 3.0)  # the row built again
    _, rebuilt = layout([rows[0], fresh], 140, kept)
    assert rebuilt == layout([rows[0], fresh], 140)[1]
