"""The configuration's progress sources: the tagged union by kind, today's keys unchanged, catch-up
optional, database URLs only where used, templates, and secrets in headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.core.config.load import ConfigError, parse_config
from console.core.config.sources import (
    HttpSource,
    JsonRpcSource,
    LogSource,
    NoSource,
    PrometheusSource,
    SqlSource,
)

WEB = """
service = "web"
[image]
repository = "web"
[slots.blue]
container = "web-blue"
host_port = 8081
[slots.green]
container = "web-green"
host_port = 8082
"""
EXPLORER = """
service = "explorer"
[image]
repository = "explorer"
[source]
db_url = "postgresql://u:p@db/chain"
[head]
kind = "sql"
query = "SELECT MAX(height) - 1 FROM blocks"
url = ""
field = ""
[candidate]
query = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"
[slots.blue]
container = "x-blue"
host_port = 8081
db_url = "postgresql://u:p@db/blue"
[slots.green]
container = "x-green"
host_port = 8082
db_url = "postgresql://u:p@db/green"
"""
HTTP_HEAD = '[head]\nkind = "http"\nurl = "http://127.0.0.1:26657/status"\nfield = "a"\n'


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("c.toml"))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_plain_web_service_needs_no_database_and_no_catch_up() -> None:
    config = parse_config(
        WEB + '[readiness]\nhealth_path = "/api/health/ready"\nhealth_expect = "ok"\n'
        "min_ready_seconds = 10\n"
        '[[readiness.checks]]\nurl = "http://127.0.0.1:{host_port}/ready"\nexpect_status = 200\n'
    )
    assert isinstance(config.candidate, NoSource) and not config.catchup
    assert config.effective_head is None
    assert config.readiness.log_pattern == ""  # the explorer's log line means nothing here
    assert config.readiness.health_expect == "ok" and config.readiness.min_ready_seconds == 10
    assert config.readiness.checks[0].url == "http://127.0.0.1:{host_port}/ready"
    explicit = parse_config(WEB + '[candidate]\nkind = "none"\n')
    assert not explicit.catchup


def test_todays_explorer_keys_parse_unchanged() -> None:
    config = parse_config(EXPLORER)
    assert config.catchup
    assert config.head == SqlSource(query="SELECT MAX(height) - 1 FROM blocks")
    assert config.candidate == SqlSource(
        query="SELECT height FROM index_watermarks WHERE index_name = 'explorer'"
    )
    assert config.readiness.log_pattern == ""  # no default: the explorer's line is its own
    legacy_http = parse_config(
        EXPLORER.replace('kind = "sql"', 'kind = "http"')
        .replace(
            'url = ""\nfield = ""',
            'url = "http://127.0.0.1:26657/status"\nfield = "result.sync_info.latest_block_height"',
        )
        .replace('query = "SELECT MAX(height) - 1 FROM blocks"\n', "")
    )
    assert legacy_http.head == HttpSource(
        url="http://127.0.0.1:26657/status", field="result.sync_info.latest_block_height"
    )
    no_head = parse_config(
        EXPLORER.replace(EXPLORER[EXPLORER.index("[head]") : EXPLORER.index("[candidate]")], "")
    )
    assert no_head.effective_head == SqlSource(query="SELECT MAX(height) - 1 FROM blocks")


def test_database_urls_are_required_only_where_used() -> None:
    message = error(WEB + '[candidate]\nquery = "SELECT 1"\n')
    assert "slots.blue.db_url is empty (the [candidate] query runs on it)" in message
    assert "source.db_url is empty (the [head] query runs on it)" in message
    reset = error(WEB.replace('repository = "web"', 'repository = "web"\nreset_database = true'))
    assert "slots.blue.db_url is empty (image.reset_database empties it)" in reset
    # an SQL candidate with its own url needs no slot database
    own = parse_config(
        WEB + HTTP_HEAD + '[candidate]\nurl = "postgresql://u:p@db/{color}"\nquery = "SELECT 1"\n'
    )
    assert isinstance(own.candidate, SqlSource) and own.candidate.url.endswith("/{color}")


def test_each_kind_validates_its_own_keys_with_did_you_mean() -> None:
    assert "Did you mean 'http'?" in error(WEB + '[candidate]\nkind = "htp"\n')
    typo = error(WEB + HTTP_HEAD + '[candidate]\nkind = "http"\nurl = "u"\nfeild = "a"\n')
    assert typo.startswith("Unknown key 'candidate.feild'. Did you mean 'field'?")
    assert 'Valid keys for kind = "http":' in typo
    other = error(WEB + HTTP_HEAD + '[candidate]\nkind = "prometheus"\nurl = "u"\nfield = "a"\n')
    assert other == (
        "candidate.field belongs to kind = 'http', not 'prometheus': remove it or set "
        "candidate.kind = 'http'."
    )
    assert "[candidate] only" in error(WEB + '[head]\nkind = "log"\n')
    assert "candidate.rpc_method" in error(
        WEB + HTTP_HEAD + '[candidate]\nkind = "jsonrpc"\nurl = "u"\n'
    )
    assert "candidate.metric must name a metric" in error(
        WEB + HTTP_HEAD + '[candidate]\nkind = "prometheus"\nurl = "u"\n'
    )
    assert "exactly one capture group" in error(
        WEB + HTTP_HEAD + '[candidate]\nkind = "log"\npattern = "height \\\\d+"\n'
    )
    assert "needs a chain head" in error(
        WEB + '[candidate]\nkind = "log"\npattern = "h (\\\\d+)"\n'
    )
    assert "no [candidate] to compare it with" in error(WEB + HTTP_HEAD)
    assert "head_field/head_metric belong in [candidate]" in error(
        WEB
        + HTTP_HEAD.replace('field = "a"', 'field = "a"\nhead_field = "b"')
        + '[candidate]\nkind = "log"\npattern = "h (\\\\d+)"\n'
    )


def test_every_kind_parses() -> None:
    rpc = parse_config(
        WEB + '[head]\nkind = "jsonrpc"\nurl = "http://127.0.0.1:8545"\n'
        'rpc_method = "eth_blockNumber"\nparams = []\n'
        '[candidate]\nkind = "prometheus"\nurl = "http://127.0.0.1:{host_port}/metrics"\n'
        'metric = "envio_progress_block"\nlabels = { chainId = "1" }\naggregate = "min"\n'
    )
    assert rpc.head == JsonRpcSource(url="http://127.0.0.1:8545", rpc_method="eth_blockNumber")
    assert rpc.candidate == PrometheusSource(
        url="http://127.0.0.1:{host_port}/metrics",
        metric="envio_progress_block",
        labels={"chainId": "1"},
        aggregate="min",
    )
    log = parse_config(WEB + HTTP_HEAD + '[candidate]\nkind = "log"\npattern = "height (\\\\d+)"\n')
    assert log.candidate == LogSource(pattern="height (\\d+)")
    self_head = parse_config(
        WEB + '[candidate]\nkind = "http"\nurl = "http://127.0.0.1:{host_port}/meta"\n'
        'field = "currentProcessingHeight"\nhead_field = "targetHeight"\n'
    )
    assert self_head.effective_head is None  # each colour's own answer gives its head


def test_url_templates_are_checked() -> None:
    message = error(
        WEB + HTTP_HEAD + '[candidate]\nkind = "http"\nurl = "http://x:{port}/s"\nfield = "a"\n'
    )
    assert (
        "candidate.url uses {port}: the placeholders are {host_port}, {color}, {container}"
        in message
    )
    head = error(WEB + HTTP_HEAD.replace("26657", "{host_port}") + '[candidate]\nkind = "none"\n')
    assert "head.url uses {host_port}, but the head is one for both colours" in head
    check = error(WEB + '[[readiness.checks]]\nurl = "http://h/{colour}"\nexpect_status = 99\n')
    assert "readiness.checks[0].url uses {colour}" in check
    assert "readiness.checks[0].expect_status must be an HTTP status" in check


def test_header_values_and_referenced_secrets_are_redaction_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RPC_KEY", "k3y-0123456789")
    config = parse_config(
        WEB + '[head]\nkind = "jsonrpc"\nurl = "https://rpc.example/v3/${RPC_KEY}"\n'
        'rpc_method = "eth_blockNumber"\nheaders = { "X-Api-Key" = "literal-key-abc" }\n'
        '[candidate]\nkind = "http"\nurl = "http://127.0.0.1:{host_port}/s"\nfield = "h"\n'
    )
    assert "k3y-0123456789" in config.secret_values  # inside a URL, found through ${RPC_KEY}
    assert "literal-key-abc" in config.secret_values  # a header value, even written literally
    assert "https://rpc.example/v3/k3y-0123456789" not in config.secret_values
    own_db = parse_config(
        WEB + HTTP_HEAD + '[candidate]\nurl = "postgresql://ro:pw-literal@db/{color}"\n'
    )
    assert "postgresql://ro:pw-literal@db/{color}" in own_db.secret_values


def test_json_rpc_params_must_be_json() -> None:
    message = error(
        WEB + '[head]\nkind = "jsonrpc"\nurl = "u"\nrpc_method = "m"\nparams = [1979-05-27]\n'
        '[candidate]\nkind = "http"\nurl = "u"\nfield = "h"\n'
    )
    assert (
        message == "head.params[0] is a date, which cannot be sent as JSON: use a string instead."
    )


def test_a_lag_rule_without_a_candidate_is_refused_not_ignored() -> None:
    # It would silently do nothing: the colour would go live without the hold asked for.
    message = error(WEB + "[readiness]\nhold_seconds = 30\n")
    assert "readiness.hold_seconds only apply to a service that re-indexes" in message
    assert "min_ready_seconds" in message


def test_reset_database_refuses_a_colour_database_shared_with_another() -> None:
    reset = EXPLORER.replace(
        'repository = "explorer"', 'repository = "explorer"\nreset_database = true'
    )
    assert parse_config(reset).image.reset_database
    shared = error(reset.replace("db/green", "db:5432/blue"))
    assert "green's database is also blue's" in shared and "u:p@" not in shared
    source = error(reset.replace("postgresql://u:p@db/blue", "postgresql://other:pw@db/chain"))
    assert "blue's database is also the source's" in source and "other:pw" not in source
    # Another server or port is another database, whatever the name.
    parse_config(reset.replace("db/green", "db2/blue"))
    parse_config(reset.replace("db/green", "db:5433/blue"))
