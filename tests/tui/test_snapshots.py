"""SVG snapshots at fixed sizes with a fixed clock (update with `pytest --snapshot-update`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from console.tui.app import BluegreenApp
from tests.tui.conftest import settle
from tests.tui.fake_console import FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SnapCompare = Callable[..., bool]


def make_app(**kwargs: Any) -> BluegreenApp:
    return BluegreenApp(FakeConsole(**kwargs), clock=fixed_clock)  # type: ignore[arg-type]


async def _settled(pilot: Pilot[Any]) -> None:
    await settle(pilot)


def test_main_mid_sync_120x40(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_settled)


def test_main_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_settled)


def test_read_only_footer_120x40(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(read_only=True), terminal_size=(120, 40), run_before=_settled)


def test_switch_confirmation_gate_not_met(snap_compare: SnapCompare) -> None:
    async def open_switch(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("S")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=open_switch)
