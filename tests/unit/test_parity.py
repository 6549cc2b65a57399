"""Parity: the [[parity]] config, the comparison at a pinned height (match / differ / error), the
gate condition, the SQL parameter binding and the stored form. Probes are fakes: pure logic only
(the real sql and http probes run against the sandbox in tests/integration/test_parity.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from console.core.config.load import ConfigError, parse_config
from console.core.config.parity import HttpParity, SqlParity
from console.core.config.schema import ReadinessConfig
from console.core.contracts.progress import SourceUnavailable
from console.core.gate.readiness import GateInputs, ReadinessGate
from console.core.measures.parity import (
    NoValue,
    ParityReport,
    newest,
    report_json,
    run_parity,
    summary,
)
from console.core.model import Color, SlotStatus
from console.core.redact import Redactor
from console.core.store.schema import slot_status_from_json, slot_status_to_json
from console.drivers.parity.sql import bind_height

EXPLORER = """
service = "explorer"
[image]
repository = "explorer"
[source]
db_url = "postgresql://u:p@db/chain"
[candidate]
kind = "sql"
[slots.blue]
container = "ex-blue"
host_port = 8081
db_url = "postgresql://u:p@db/blue"
[slots.green]
container = "ex-green"
host_port = 8082
db_url = "postgresql://u:p@db/green"
"""
BLOCK_HASH = """
[[parity]]
kind = "sql"
name = "block hash"
query = "SELECT root FROM explorer_block_details WHERE height = {height}"
"""


def test_parity_entries_are_a_tagged_union_by_kind() -> None:
    config = parse_config(
        EXPLORER
        + BLOCK_HASH
        + """
[[parity]]
kind = "http"
name = "graphql block"
url = "http://127.0.0.1:{host_port}/graphql"
body = '{"query": "{ block(height: {height}) { root } }"}'
field = "data.block.root"
headers = { Authorization = "Bearer s3cr3t-token" }
[readiness]
parity_required = true
parity_margin = 5
"""
    )
    assert config.parity[0] == SqlParity(
        name="block hash", query="SELECT root FROM explorer_block_details WHERE height = {height}"
    )
    assert isinstance(config.parity[1], HttpParity) and config.parity[1].method == "POST"
    assert config.readiness.parity_required and config.readiness.parity_margin == 5
    assert "Bearer s3cr3t-token" in config.secret_values  # header values are secrets


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[[parity]]\nkind = "sql"\nname = "x"\nquery = "SELECT 1"', "must use {height}"),
        ('[[parity]]\nkind = "sql"\nname = "x"\nquerry = "q {height}"', "Did you mean 'query'?"),
        ('[[parity]]\nkind = "sq"\nname = "x"', "Did you mean 'sql'?"),
        ('[[parity]]\nkind = "sql"\nquery = "q {height}"', "parity[0].name must name the check"),
        ('[[parity]]\nkind = "http"\nname = "x"\nurl = "http://h/{nope}?h={height}"', "{nope}"),
        ('[[parity]]\nkind = "http"\nname = "x"\nurl = "http://h/"', "must pin the height"),
        ('[[parity]]\nkind = "sql"\nname = "x"\nquery = "q {height}"\nurl = "u"', "kind = 'http'"),
        ("[readiness]\nparity_required = true", "needs at least one [[parity]]"),
        (BLOCK_HASH + BLOCK_HASH, "used twice"),
    ],
)
def test_bad_parity_config_is_one_sentence_naming_the_key(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(EXPLORER + extra)
    assert expected in str(caught.value)


def test_parity_needs_a_candidate_height() -> None:
    web = EXPLORER.replace('[candidate]\nkind = "sql"\n', "")
    with pytest.raises(ConfigError, match=r"no \[candidate\]"):
        parse_config(web + BLOCK_HASH)


class FakeProbe:
    kind = "fake"

    def __init__(self, name: str, values: dict[Color, object]) -> None:
        self.name = name
        self.values = values
        self.asked: list[tuple[Color, int]] = []

    def value(self, color: Color, height: int) -> object:
        self.asked.append((color, height))
        found = self.values[color]
        if isinstance(found, Exception):
            raise found
        return found

    def close(self) -> None:
        pass


REDACT = Redactor(["hunter22"]).redact


def test_both_colours_are_asked_at_min_height_minus_margin() -> None:
    probe = FakeProbe("block hash", {"blue": "ab12", "green": "ab12"})
    report = run_parity([probe], {"blue": 1000, "green": 950}, 10, REDACT)
    assert report.height == 940 and report.all_match
    assert probe.asked == [("blue", 940), ("green", 940)]
    assert report.checks[0].result == "match" and report.checks[0].blue == "ab12"
    assert summary(report) == "parity at height 940: 1 of 1 match"


def test_differ_carries_both_values_shortened_and_redacted() -> None:
    long_value = "x" * 200
    probe = FakeProbe("hash", {"blue": "pw=hunter22 " + long_value, "green": "ab12"})
    report = run_parity([probe], {"blue": 100, "green": 100}, 0, REDACT)
    check = report.checks[0]
    assert check.result == "differ" and not report.all_match
    assert check.blue is not None and "hunter22" not in check.blue and check.blue.endswith("…")
    assert len(check.blue) <= 60 and check.green == "ab12"
    assert "height 100" in summary(report) and "'hash' differs" in summary(report)
    assert "ab12" in summary(report)


def test_equal_data_compares_equal_whatever_its_spelling() -> None:
    probe = FakeProbe("rows", {"blue": {"a": 1, "b": [1, 2]}, "green": {"b": [1, 2], "a": 1}})
    assert run_parity([probe], {"blue": 5, "green": 5}, 0, REDACT).all_match


def test_an_unreadable_colour_is_an_error_never_a_match() -> None:
    down = SourceUnavailable("The green database is unreachable (connection refused); retrying.")
    probe = FakeProbe("hash", {"blue": "ab", "green": down})
    report = run_parity([probe], {"blue": 10, "green": 10}, 0, REDACT)
    assert report.checks[0].result == "error" and "connection refused" in report.checks[0].detail
    # A stopped container: its database may answer, but it serves no one.
    probe = FakeProbe("hash", {"blue": "ab", "green": "ab"})
    report = run_parity(
        [probe], {"blue": 10, "green": 10}, 0, REDACT, {"green": "its container is exited"}
    )
    assert report.checks[0].result == "error" and report.height is None
    assert probe.asked == [] and "exited" in (report.error or "")
    # No height for a colour: nothing can be pinned.
    report = run_parity([probe], {"blue": 10, "green": None}, 0, REDACT, height_errors={})
    assert report.checks[0].result == "error" and not report.all_match


def test_a_missing_row_on_one_side_differs_and_on_both_is_an_error() -> None:
    one = run_parity(
        [FakeProbe("h", {"blue": "ab", "green": NoValue("no row")})],
        {"blue": 3, "green": 3},
        0,
        REDACT,
    )
    assert one.checks[0].result == "differ" and one.checks[0].green is None
    both = run_parity(
        [FakeProbe("h", {"blue": NoValue("no row"), "green": NoValue("no row")})],
        {"blue": 3, "green": 3},
        0,
        REDACT,
    )
    assert both.checks[0].result == "error"


def test_sql_binds_the_height_as_a_parameter_and_escapes_percent() -> None:
    query = "SELECT root FROM t WHERE height = {height} AND name LIKE 'a%'"
    assert bind_height(query) == "SELECT root FROM t WHERE height = %(height)s AND name LIKE 'a%%'"


def _report(at: float, match: bool) -> ParityReport:
    probe = FakeProbe("hash", {"blue": "ab", "green": "ab" if match else "cd"})
    return run_parity([probe], {"blue": 50, "green": 60}, 10, REDACT, now=lambda: at)


def test_the_gate_requires_a_fresh_match_when_parity_required() -> None:
    config = ReadinessConfig(
        log_pattern="", health_path="", parity_required=True, parity_interval_seconds=10
    )
    gate = ReadinessGate(config)
    base = dict(
        lag=0, log_pattern_seen=None, health_ok=None, smoke_ok=None, smoke_detail="",
        height=100, live_height=100, is_live_candidate=False,
    )  # fmt: skip

    def parity_condition(now: float, report: ParityReport | None) -> tuple[bool, str]:
        result = gate.evaluate(GateInputs(now=now, sample_at=now, parity=report, **base))  # type: ignore[arg-type]
        found = [c for c in result.conditions if c.name == "parity"]
        return found[0].met, found[0].detail

    assert parity_condition(100.0, None) == (False, "not compared yet")
    met, detail = parity_condition(100.0, _report(95.0, match=True))
    assert met and "at height 40" in detail
    met, detail = parity_condition(100.0, _report(95.0, match=False))
    assert not met and "differs" in detail
    met, detail = parity_condition(200.0, _report(95.0, match=True))
    assert not met and "stale" in detail
    no_parity = ReadinessGate(dataclasses.replace(config, parity_required=False))
    result = no_parity.evaluate(GateInputs(now=1.0, sample_at=1.0, **base))  # type: ignore[arg-type]
    assert all(c.name != "parity" for c in result.conditions)


def test_the_report_survives_the_store_and_json() -> None:
    report = _report(123.0, match=False)
    status = slot_status_from_json(slot_status_to_json(SlotStatus("green", parity=report)))
    assert status is not None and status.parity == report
    data = report_json(report)
    assert data["height"] == 40 and data["checks"][0]["result"] == "differ"  # type: ignore[index]
    json.dumps(data)
    assert newest([None, _report(1.0, True), report]) == report


def test_parity_command_without_checks_says_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli import EXIT_USAGE, main, parse_args

    path = tmp_path / "bluegreen.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n' + EXPLORER)
    assert parse_args(["parity", "--json"]).json
    assert main(["--config", str(path), "parity"]) == EXIT_USAGE
    assert "No [[parity]] check is configured" in capsys.readouterr().err
