"""The one duration spelling: the CLI's ETA column, the TUI's uptime and the disk gate print it."""

from __future__ import annotations

import math

import pytest

from console.core.durations import duration_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45.4, "45s"),
        (59.6, "1m00s"),  # rounded, never truncated into "59s" for 59.6
        (100, "1m40s"),
        (725, "12m05s"),
        (3_599, "59m59s"),
        (3_600, "1h00m"),
        (11_520, "3h12m"),
        (86_399, "23h59m"),
        (86_400, "1d00h"),
        (187_200, "2d04h"),
        (55 * 86_400 + 13 * 3_600, "55d13h"),
    ],
)
def test_two_units_at_most_the_second_zero_padded(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize("unknown", [None, math.inf, -math.inf, math.nan])
def test_an_unknown_duration_is_a_dash(unknown: float | None) -> None:
    assert duration_text(unknown) == "—"


def test_a_negative_duration_reads_as_none_left() -> None:
    # A clock a little ahead of the sampler's must not print "-3s" as an uptime or ETA.
    assert duration_text(-3.0) == "0s"


def test_the_cli_and_the_tui_spell_an_eta_alike() -> None:
    from console.cli.render import eta_text
    from console.core.model import SlotStatus
    from console.tui.format import eta

    slot = SlotStatus(color="green", eta_seconds=1_325.0)
    assert eta_text(slot, "ETA ") == "ETA 22m05s"
    assert eta(1_325.0, now=0.0).startswith("22m05s → ")
