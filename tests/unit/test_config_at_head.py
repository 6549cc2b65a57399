"""`readiness.leave_after_seconds` and `notify.alarm_after_seconds`: defaults, values, errors."""

from __future__ import annotations

import pytest

from console.core.config.load import ConfigError, parse_config

BASE = """
[image]
repository = "webapp"
[slots.blue]
container = "w-blue"
host_port = 18081
[slots.green]
container = "w-green"
host_port = 18082
"""


def test_defaults() -> None:
    config = parse_config(BASE)
    assert config.readiness.leave_after_seconds == 10.0
    assert config.notify.alarm_after_seconds == 120.0


def test_values_parse() -> None:
    config = parse_config(
        BASE + "[readiness]\nleave_after_seconds = 0\n[notify]\nalarm_after_seconds = 30\n"
    )
    assert (config.readiness.leave_after_seconds, config.notify.alarm_after_seconds) == (0, 30)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("[readiness]\nleave_after_seconds = -1", "leave_after_seconds must be 0 or more"),
        ("[readiness]\nleave_after_second = 5", "Did you mean 'leave_after_seconds'?"),
        ('[readiness]\nleave_after_seconds = "soon"', "leave_after_seconds"),
        ("[notify]\nalarm_after_seconds = -5", "notify.alarm_after_seconds must be 0 or more"),
        ("[notify]\nalarm_after = 5", "Did you mean 'alarm_after_seconds'?"),
    ],
)
def test_bad_values_are_one_clear_paragraph(table: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + table + "\n")
    text = str(caught.value)
    assert says in text and "\n" not in text, text
