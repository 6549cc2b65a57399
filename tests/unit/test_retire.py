"""Drain-aware retirement: the pure policy deciding when the previous colour may stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.agent.retire import decide
from console.core.config.load import ConfigError, load_config

KEEP_UNTIL, TIMEOUT = 1000.0, 60.0


def test_nothing_stops_before_the_keep_has_passed() -> None:
    assert not decide(999.0, KEEP_UNTIL, TIMEOUT, 0, 0).stop


def test_a_drained_colour_stops_as_soon_as_the_keep_has_passed() -> None:
    decision = decide(1000.0, KEEP_UNTIL, TIMEOUT, 0, 0)
    assert decision.stop and decision.why.startswith("drained")


def test_open_requests_hold_the_stop_until_they_end() -> None:
    assert not decide(1030.0, KEEP_UNTIL, TIMEOUT, 2, 1).stop
    assert decide(1031.0, KEEP_UNTIL, TIMEOUT, 0, 0).why.startswith("drained")


def test_the_drain_timeout_stops_it_and_says_how_many_were_open() -> None:
    decision = decide(1060.0, KEEP_UNTIL, TIMEOUT, 3, 1)
    assert decision.stop and decision.why == "drain timeout with 3 open, 1 websocket"
    assert decide(1061.0, KEEP_UNTIL, TIMEOUT, 2, 0).why == "drain timeout with 2 open"


def test_a_proxy_that_cannot_count_retires_by_time_and_says_so() -> None:
    decision = decide(1000.0, KEEP_UNTIL, TIMEOUT, None, None)
    assert decision.stop and "no open-request count" in decision.why


CONFIG = """
service = "drain"
state_dir = "{state}"
[image]
repository = "example/web"
[slots.blue]
container = "d-blue"
host_port = 18981
[slots.green]
container = "d-green"
host_port = 18982
[switch]
keep_previous_seconds = 60
drain_timeout_seconds = {timeout}
"""


def test_drain_timeout_is_read_and_a_negative_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "bluegreen.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state", timeout=45))
    assert load_config(str(path)).switch.drain_timeout_seconds == 45
    path.write_text(CONFIG.format(state=tmp_path / "state", timeout=-1))
    with pytest.raises(ConfigError, match=r"switch\.drain_timeout_seconds must be 0 or more"):
        load_config(str(path))
