"""Each progress-source kind, built from TOML by the real loader and the drivers' table, against a
real HTTP server on loopback: readings, and every failure as one redacted sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from console.core.config.load import parse_config
from console.core.contracts.progress import ProgressSource, Reading, SourceUnavailable
from console.drivers.progress import make_candidate_source, make_head_source
from tests.unit.loopback_http import Loopback, loopback_server, refused_url

TOKEN = "tok-9f8e7d6c5b4a-secret"
SLOTS = """
service = "svc"
[image]
repository = "svc"
[slots.blue]
container = "svc-blue"
host_port = {port}
[slots.green]
container = "svc-green"
host_port = 1
"""


@pytest.fixture()
def server() -> Iterator[Loopback]:
    with loopback_server() as state:
        yield state


@pytest.fixture(autouse=True)
def api_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROGRESS_API_TOKEN", TOKEN)


FIXED_HEAD = '[head]\nkind = "http"\nurl = "http://127.0.0.1:9/head"\nfield = "h"\n'


def candidate(server: Loopback, section: str, head: str = FIXED_HEAD) -> ProgressSource:
    text = SLOTS.format(port=server.port) + head + "\n[candidate]\n" + section
    config = parse_config(text)
    source = make_candidate_source(config, "blue")
    assert source is not None
    return source


def head_source(server: Loopback, section: str) -> ProgressSource:
    text = SLOTS.format(port=server.port) + "\n[head]\n" + section
    text += '\n[candidate]\nkind = "http"\nurl = "http://127.0.0.1:{host_port}/c"\nfield = "h"\n'
    source = make_head_source(parse_config(text))
    assert source is not None
    return source


def failure(source: ProgressSource) -> str:
    with pytest.raises(SourceUnavailable) as caught:
        source.read()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert TOKEN not in message
    assert message.startswith("The ")
    return message


# ── http ─────────────────────────────────────────────────────────────────────────────────────────


def test_http_reads_cometbft_status_decimal_string_from_the_colours_own_port(
    server: Loopback,
) -> None:
    server.json("/status", {"result": {"sync_info": {"latest_block_height": "8123456"}}})
    source = candidate(
        server,
        'kind = "http"\nurl = "http://127.0.0.1:{host_port}/status"\n'
        'field = "result.sync_info.latest_block_height"\n'
        'headers = { Authorization = "Bearer ${PROGRESS_API_TOKEN}" }\n',
    )
    try:
        assert source.label == "blue progress endpoint"
        assert source.read() == Reading(8123456)
        assert server.received[-1].headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in repr(source)
    finally:
        source.close()


def test_http_post_graphql_with_head_field_and_list_indices(server: Loopback) -> None:
    server.json(
        "/graphql",
        {
            "data": {
                "indexingStatuses": [
                    {
                        "chains": [
                            {"chainHeadBlock": {"number": "500"}, "latestBlock": {"number": "450"}}
                        ]
                    }
                ]
            }
        },
    )
    source = candidate(
        server,
        'kind = "http"\nurl = "http://127.0.0.1:{host_port}/graphql"\nmethod = "POST"\n'
        'body = \'{"query": "{ indexingStatuses { chains { latestBlock { number } } } }"}\'\n'
        'field = "data.indexingStatuses.0.chains.0.latestBlock.number"\n'
        'head_field = "data.indexingStatuses.0.chains.0.chainHeadBlock.number"\n',
    )
    try:
        assert source.read() == Reading(450, 500)
        sent = server.received[-1]
        assert sent.method == "POST" and sent.headers["Content-Type"] == "application/json"
        assert b"indexingStatuses" in sent.body
    finally:
        source.close()


def test_http_per_chain_values_need_an_aggregate(server: Loopback) -> None:
    chains = {"mainnet": {"block": {"number": 120}}, "base": {"block": {"number": 95}}}
    server.json("/status", chains)
    url = 'url = "http://127.0.0.1:{host_port}/status"\n'
    lowest = candidate(server, f'kind = "http"\n{url}field = "*.block.number"\naggregate = "min"\n')
    total = candidate(server, f'kind = "http"\n{url}field = "*.block.number"\naggregate = "sum"\n')
    several = candidate(server, f'kind = "http"\n{url}field = "*.block.number"\n')
    try:
        assert lowest.read().height == 95
        assert total.read().height == 215
        assert failure(several) == (
            'The blue progress endpoint gave 2 values; set candidate.aggregate = "min", "max" '
            'or "sum" to say how they make one height.'
        )
    finally:
        for s in (lowest, total, several):
            s.close()


def test_http_null_is_no_height_yet(server: Loopback) -> None:
    server.json("/meta", {"currentProcessingHeight": None, "chain": {"block": None}})
    url = 'url = "http://127.0.0.1:{host_port}/meta"\n'
    direct = candidate(server, f'kind = "http"\n{url}field = "currentProcessingHeight"\n')
    nested = candidate(server, f'kind = "http"\n{url}field = "chain.block.number"\n')
    try:
        assert direct.read() == Reading(None)
        assert nested.read() == Reading(None)
    finally:
        direct.close()
        nested.close()


def test_http_missing_field_names_the_missing_part(server: Loopback) -> None:
    server.json("/status", {"result": {"sync_info": {"catching_up": False}}, "list": [1]})
    url = 'url = "http://127.0.0.1:{host_port}/status"\n'
    source = candidate(
        server, f'kind = "http"\n{url}field = "result.sync_info.latest_block_height"\n'
    )
    index = candidate(server, f'kind = "http"\n{url}field = "list.3"\n')
    try:
        assert failure(source) == (
            "The blue progress endpoint answer has no field "
            "'result.sync_info.latest_block_height': no 'latest_block_height' in "
            "result.sync_info (its keys: catching_up); check candidate.field."
        )
        assert "list has 1 item(s), no index 3" in failure(index)
    finally:
        source.close()
        index.close()


def test_http_not_a_number_says_what_came_back(server: Loopback) -> None:
    server.json("/status", {"height": "syncing", "obj": {"a": 1}})
    url = 'url = "http://127.0.0.1:{host_port}/status"\n'
    word = candidate(server, f'kind = "http"\n{url}field = "height"\n')
    obj = candidate(server, f'kind = "http"\n{url}field = "obj"\n')
    try:
        assert failure(word) == (
            "The blue progress endpoint returned 'syncing', not a height; check candidate.field."
        )
        server.answers["/status"].body = b"<html>maintenance</html>"
        assert "did not answer JSON (it began '<html>maintenance</html>')" in failure(word)
        server.json("/status", {"obj": {"a": True}})
        assert "returned True, not a height" in failure(obj)
    finally:
        word.close()
        obj.close()


def test_http_error_status_unreachable_and_timeout_are_sentences(server: Loopback) -> None:
    server.json("/status", {"h": 1}, status=503)
    url = 'url = "http://127.0.0.1:{host_port}/status"\n'
    source = candidate(server, f'kind = "http"\n{url}field = "h"\ntimeout_seconds = 0.3\n')
    try:
        assert failure(source) == (
            "The blue progress endpoint answered HTTP 503; the service is failing or starting; "
            "retrying."
        )
        server.json("/status", {"h": 1}, status=401)
        assert "HTTP 401; check the credentials in candidate.headers." in failure(source)
        server.text("/status", '{"h": 1}', delay=1.0)
        assert failure(source) == (
            "The blue progress endpoint did not answer within 0.3 s (timeout); check that the "
            "service at candidate.url is up, or raise candidate.timeout_seconds."
        )
    finally:
        source.close()
    password_url = refused_url("/status").replace("http://", f"http://u:{TOKEN}@")
    head = head_source(server, f'kind = "http"\nurl = "{password_url}"\nfield = "h"\n')
    try:
        assert failure(head) == (
            "The chain head endpoint is unreachable (connection refused); check head.url and "
            "that the service listens there. Retrying."
        )
    finally:
        head.close()


def test_http_head_reads_hex_and_decimal_strings(server: Loopback) -> None:
    server.json("/h", {"a": "0x1b4", "b": "12,345,600", "c": 7.0})
    for field, expected in (("a", 436), ("b", 12345600), ("c", 7)):
        source = head_source(
            server, f'kind = "http"\nurl = "{server.url("/h")}"\nfield = "{field}"\n'
        )
        try:
            assert source.read().height == expected
        finally:
            source.close()


# ── jsonrpc ──────────────────────────────────────────────────────────────────────────────────────


def test_jsonrpc_eth_block_number_hex(server: Loopback) -> None:
    server.json("/", {"jsonrpc": "2.0", "id": 1, "result": "0x2377"})
    source = head_source(
        server, f'kind = "jsonrpc"\nurl = "{server.url("/")}"\nrpc_method = "eth_blockNumber"\n'
    )
    try:
        assert source.label == "chain head RPC endpoint"
        assert source.read().height == 0x2377
        sent = server.received[-1]
        assert sent.method == "POST"
        assert (
            sent.body == b'{"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}'
        )
    finally:
        source.close()


def test_jsonrpc_params_and_field_inside_result(server: Loopback) -> None:
    server.json("/", {"jsonrpc": "2.0", "id": 1, "result": {"number": "0x10", "hash": "0xab"}})
    source = head_source(
        server,
        f'kind = "jsonrpc"\nurl = "{server.url("/")}"\nrpc_method = "eth_getBlockByNumber"\n'
        'params = ["latest", false]\nfield = "number"\n',
    )
    try:
        assert source.read().height == 16
        assert b'"params": ["latest", false]' in server.received[-1].body
    finally:
        source.close()


def test_jsonrpc_error_member_is_reported(server: Loopback) -> None:
    server.json(
        "/", {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "method not found"}}
    )
    source = head_source(
        server, f'kind = "jsonrpc"\nurl = "{server.url("/")}"\nrpc_method = "eth_blockNumbr"\n'
    )
    try:
        assert failure(source) == (
            "The chain head RPC endpoint returned a JSON-RPC error (error -32601: method not "
            "found) for eth_blockNumbr; check head.rpc_method and head.params."
        )
        server.json("/", {"jsonrpc": "2.0", "id": 1})
        assert "has neither 'result' nor 'error'" in failure(source)
        server.json("/", {"jsonrpc": "2.0", "id": 1, "result": "pending"})
        assert failure(source) == (
            "The chain head RPC endpoint returned 'pending', not a height; check head.field."
        )
        server.json("/", {}, status=500)
        assert "answered HTTP 500" in failure(source)
    finally:
        source.close()


def test_jsonrpc_unreachable_and_timeout(server: Loopback) -> None:
    source = head_source(
        server, f'kind = "jsonrpc"\nurl = "{refused_url()}"\nrpc_method = "eth_blockNumber"\n'
    )
    try:
        assert "is unreachable (connection refused); check head.url" in failure(source)
    finally:
        source.close()
    server.text("/slow", "{}", delay=1.0)
    slow = head_source(
        server,
        f'kind = "jsonrpc"\nurl = "{server.url("/slow")}"\nrpc_method = "eth_blockNumber"\n'
        "timeout_seconds = 0.2\n",
    )
    try:
        assert "did not answer within 0.2 s (timeout)" in failure(slow)
    finally:
        slow.close()


# ── prometheus ───────────────────────────────────────────────────────────────────────────────────

SCRAPE = """# HELP sqd_processor_last_block Last processed block
# TYPE sqd_processor_last_block gauge
sqd_processor_last_block 4321
# TYPE sqd_processor_chain_height gauge
sqd_processor_chain_height 4400
# TYPE envio_progress_block gauge
envio_progress_block{chainId="1"} 900
envio_progress_block{chainId="10"} 1.2e3
# TYPE envio_not_started gauge
"""


def test_prometheus_gauge_with_head_metric(server: Loopback) -> None:
    server.text("/metrics", SCRAPE)
    source = candidate(
        server,
        'kind = "prometheus"\nurl = "http://127.0.0.1:{host_port}/metrics"\n'
        'metric = "sqd_processor_last_block"\nhead_metric = "sqd_processor_chain_height"\n',
    )
    try:
        assert source.read() == Reading(4321, 4400)
    finally:
        source.close()


def test_prometheus_labels_aggregate_and_no_series_yet(server: Loopback) -> None:
    server.text("/metrics", SCRAPE)
    url = 'url = "http://127.0.0.1:{host_port}/metrics"\n'
    chain = candidate(
        server,
        f'kind = "prometheus"\n{url}metric = "envio_progress_block"\n'
        'labels = { chainId = "10" }\n',
    )
    lowest = candidate(
        server, f'kind = "prometheus"\n{url}metric = "envio_progress_block"\naggregate = "min"\n'
    )
    not_started = candidate(server, f'kind = "prometheus"\n{url}metric = "envio_not_started"\n')
    try:
        assert chain.read().height == 1200
        assert lowest.read().height == 900
        assert not_started.read() == Reading(None)
    finally:
        for s in (chain, lowest, not_started):
            s.close()


def test_prometheus_metric_and_label_absent_are_sentences(server: Loopback) -> None:
    server.text("/metrics", SCRAPE)
    url = 'url = "http://127.0.0.1:{host_port}/metrics"\n'
    metric = candidate(server, f'kind = "prometheus"\n{url}metric = "sqd_processor_last_blok"\n')
    label = candidate(
        server,
        f'kind = "prometheus"\n{url}metric = "envio_progress_block"\n'
        'labels = { chainId = "5" }\n',
    )
    try:
        assert failure(metric) == (
            "The blue metrics endpoint has no metric sqd_processor_last_blok (similar: "
            "sqd_processor_chain_height, sqd_processor_last_block); check candidate.metric."
        )
        assert failure(label) == (
            "The blue metrics endpoint has envio_progress_block but no series with labels "
            '{chainId="5"} (it has {chainId="1"}; {chainId="10"}); check candidate.labels.'
        )
        server.text("/metrics", "this is { not prometheus")
        assert "did not answer Prometheus text format" in failure(metric)
        server.text("/metrics", "", status=404)
        assert "answered HTTP 404; check the path in candidate.url." in failure(metric)
    finally:
        metric.close()
        label.close()


# ── log ──────────────────────────────────────────────────────────────────────────────────────────


def test_log_takes_the_last_match_with_thousands_separators(server: Loopback) -> None:
    source = candidate(
        server,
        'kind = "log"\npattern = "Processing block height ([\\\\d,]+)"\n',
        head='[head]\nkind = "http"\nurl = "http://h/x"\nfield = "h"\n',
    )
    try:
        assert source.reads_logs and source.label == "blue container log"
        assert source.read() == Reading(None)
        source.feed_line("INFO Processing block height 12,345,600 with 3 transactions")
        source.feed_line("INFO something else")
        source.feed_line(
            "\x1b[32mINFO\x1b[0m Processing block height 12,345,601 with 0 transactions"
        )
        assert source.read().height == 12_345_601
        source.reset()  # a new container: the old one's height says nothing
        assert source.read() == Reading(None)
        source.feed_line("Processing block height 1,2,3")
        message = failure(source)
        assert message == (
            "The blue container log matched '1,2,3', not a height; make the capture group of "
            "candidate.pattern take only the digits, e.g. (\\d[\\d,]*)."
        )
    finally:
        source.close()


def test_no_secret_in_any_sentence_even_when_the_url_carries_it(server: Loopback) -> None:
    server.json("/v3/" + TOKEN, {"error": "x"}, status=403)
    url = server.url("/v3/${PROGRESS_API_TOKEN}")
    source = head_source(
        server, f'kind = "jsonrpc"\nurl = "{url}"\nrpc_method = "eth_blockNumber"\n'
    )
    try:
        message = failure(source)
        assert re.search(r"HTTP 403; check the credentials in head\.headers\.$", message)
    finally:
        source.close()


def test_an_echoed_header_is_masked_before_the_excerpt_is_cut(server: Loopback) -> None:
    """A service that echoes the key back in a non-JSON error: the sentence quotes the start of
    the body, and a key cut off there would no longer match the redactor — mask, then cut."""
    server.text("/h", f"{TOKEN}{TOKEN} is not a key we know")  # the key runs past 30 chars
    url = server.url("/h")
    key = 'headers = { X-Api-Key = "${PROGRESS_API_TOKEN}${PROGRESS_API_TOKEN}" }\n'
    source = head_source(server, f'kind = "http"\nurl = "{url}"\n{key}field = "h"\n')
    try:
        message = failure(source)
        assert server.received[-1].headers["X-Api-Key"] == TOKEN + TOKEN
        assert "did not answer JSON (it began '***" in message, message
        assert TOKEN[:12] not in message, message
    finally:
        source.close()
