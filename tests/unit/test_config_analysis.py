"""`[analysis]`: off without the table, defaults with it, one clear paragraph for bad values."""

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
[candidate]
kind = "none"
"""


def test_no_table_means_no_analysis() -> None:
    assert parse_config(BASE).analysis.enabled is False


def test_the_table_turns_it_on_with_defaults() -> None:
    analysis = parse_config(BASE + "[analysis]\n").analysis
    assert analysis.enabled and analysis.on_read_error == "inconclusive"
    assert (analysis.interval_seconds, analysis.failure_limit, analysis.min_requests) == (10, 3, 20)
    assert analysis.pre_switch is False


def test_every_key_parses() -> None:
    analysis = parse_config(
        BASE
        + """[analysis]
interval_seconds = 2
window_seconds = 4
max_error_rate = 0.01
max_p99_ms = 800
max_p99_ratio = 3
failure_limit = 2
min_requests = 10
on_read_error = "failure"
pre_switch = true
"""
    ).analysis
    assert analysis.max_p99_ratio == 3.0 and analysis.on_read_error == "failure"
    assert analysis.pre_switch and analysis.window_seconds == 4.0


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("max_error_rate = 5", "is a share, not a percentage: write 0.01"),
        ("max_p99_ratio = 0.5", "use a factor above 1"),
        ("failure_limit = 0", "analysis.failure_limit must be 1 or more"),
        ("min_requests = 0", "analysis.min_requests must be 1 or more"),
        ("interval_seconds = 10\nwindow_seconds = 5", "must be at least analysis.interval"),
        ("interval_seconds = 100\nfailure_limit = 4", "is longer than switch.watch_seconds"),
        ('on_read_error = "ignore"', "use one of 'inconclusive', 'failure'"),
        ("max_p99 = 5", "Did you mean 'max_p99_ms'?"),
        ("pre_switch = 1", "analysis.pre_switch must be true or false"),
    ],
)
def test_bad_values_are_one_clear_paragraph(table: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + "[analysis]\n" + table + "\n")
    text = str(caught.value)
    assert says in text and "\n" not in text, text


def test_disabled_table_is_not_checked() -> None:
    assert not parse_config(
        BASE + "[analysis]\nenabled = false\nfailure_limit = 0\n"
    ).analysis.enabled


def test_haproxy_cannot_judge_p99() -> None:
    with pytest.raises(ConfigError, match="HAProxy's stats do not give"):
        parse_config(BASE + '[proxy]\nkind = "haproxy"\n[analysis]\nmax_p99_ms = 500\n')
