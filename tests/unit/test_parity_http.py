"""The http parity kind and the runner, against two real loopback HTTP servers (one per colour):
heights read afresh from each colour, `{height}` in the body, compare on a field or the whole
JSON, secrets kept out of every sentence, an unreachable colour an error."""

from __future__ import annotations

import json
from pathlib import Path

from console.core.config.load import parse_config
from console.core.redact import Redactor
from console.drivers.parity import ParityRunner
from console.sandbox.profiles import PROFILES
from tests.unit.loopback_http import Loopback, loopback_server


def config_for(blue: Loopback, green_port: int, field: str = "data.block.root") -> str:
    return f"""
service = "svc"
[image]
repository = "svc"
[candidate]
kind = "http"
url = "http://127.0.0.1:{{host_port}}/status"
field = "block"
head_field = "head"
[slots.blue]
container = "svc-blue"
host_port = {blue.port}
[slots.green]
container = "svc-green"
host_port = {green_port}
[readiness]
parity_margin = 3
[[parity]]
kind = "http"
name = "graphql block"
url = "http://127.0.0.1:{{host_port}}/graphql"
body = '{{"query": "{{ block(height: {{height}}) {{ root }} }}"}}'
field = "{field}"
headers = {{ Authorization = "Bearer tok-s3cr3t-value" }}
"""


def serve(server: Loopback, height: int, root: str) -> None:
    server.json("/status", {"block": height, "head": height + 1})
    server.json("/graphql", {"data": {"block": {"root": root, "extra": [1, 2]}}})


def runner(text: str) -> ParityRunner:
    config = parse_config(text)
    return ParityRunner(config, Redactor(config.secret_values))


def test_http_parity_matches_differs_and_pins_the_height_in_the_body() -> None:
    with loopback_server() as blue, loopback_server() as green:
        serve(blue, 120, "aa11")
        serve(green, 100, "aa11")
        parity = runner(config_for(blue, green.port))
        try:
            report = parity.run()
            assert report.height == 97 and report.all_match, report
            sent = json.loads(green.received[-1].body)
            assert sent == {"query": "{ block(height: 97) { root } }"}
            assert green.received[-1].headers["Authorization"] == "Bearer tok-s3cr3t-value"
            serve(green, 100, "bb22")
            report = parity.run()
            check = report.checks[0]
            assert check.result == "differ" and (check.blue, check.green) == ("aa11", "bb22")
        finally:
            parity.close()


def test_whole_json_compared_when_no_field() -> None:
    with loopback_server() as blue, loopback_server() as green:
        serve(blue, 50, "cc")
        serve(green, 50, "cc")
        text = config_for(blue, green.port).replace('field = "data.block.root"\n', "")
        parity = runner(text)
        try:
            assert parity.run().all_match
            green.json("/graphql", {"data": {"block": {"root": "cc", "extra": [1, 3]}}})
            assert parity.run().checks[0].result == "differ"
        finally:
            parity.close()


def test_an_unreachable_colour_is_an_error_and_no_secret_leaks() -> None:
    with loopback_server() as blue, loopback_server() as green:
        serve(blue, 50, "cc")
        serve(green, 50, "cc")
        parity = runner(config_for(blue, green.port))
        try:
            green.answers["/graphql"] = green.answers.pop("/graphql").__class__(
                500, b"tok-s3cr3t-value"
            )
            report = parity.run()
            assert report.checks[0].result == "error" and not report.all_match
            assert "HTTP 500" in report.checks[0].detail
            assert "tok-s3cr3t-value" not in json.dumps(report.checks[0].detail)
        finally:
            parity.close()
    dead = runner(config_for(blue, green.port))  # both servers are gone now
    try:
        report = dead.run()
        assert report.height is None and report.checks[0].result == "error"
        assert "unreachable" in (report.error or "")
    finally:
        dead.close()


def test_the_explorer_sandbox_carries_block_hash_parity(tmp_path: Path) -> None:
    from tests.unit.test_sandbox_profiles import context, write_secrets

    write_secrets(tmp_path)
    config = parse_config(PROFILES["explorer"].render_config(context(tmp_path)))
    assert [c.name for c in config.parity] == ["block hash", "last 1000 hashes"]
    assert all("{height}" in c.query for c in config.parity)  # type: ignore[union-attr]
