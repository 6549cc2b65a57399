"""The evm profile's chain simulator: height over time, the JSON-RPC answers real nodes give
(hex strings, `error` members), and a restart that continues the same chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.sandbox import rpc_chain
from console.sandbox.rpc_chain import Chain, answer


def test_head_grows_one_block_per_interval_from_the_history() -> None:
    chain = Chain(history=500, interval=2.0, started=1000.0)
    assert chain.head(now=999.0) == 500  # a clock step backwards never lowers the head
    assert chain.head(now=1000.0) == 500
    assert chain.head(now=1003.9) == 501
    assert chain.head(now=1010.0) == 505


def test_block_number_is_a_hex_string() -> None:
    chain = Chain(history=0x2377, interval=1.0, started=1e12)  # started in the future: no growth
    reply = answer(chain, {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []})
    assert reply == {"jsonrpc": "2.0", "id": 7, "result": "0x2377"}


def test_unknown_method_is_a_json_rpc_error_member() -> None:
    chain = Chain(history=10, interval=1.0, started=1e12)
    reply = answer(chain, {"jsonrpc": "2.0", "id": 1, "method": "eth_nope"})
    assert "result" not in reply
    assert reply["error"]["code"] == -32601
    assert "eth_nope" in reply["error"]["message"]
    assert answer(chain, ["not", "an", "object"])["error"]["code"] == -32600


def test_blocks_chain_by_hash_and_none_past_the_head() -> None:
    chain = Chain(history=10, interval=1.0, started=1e12)

    def block(tag: object) -> object:
        return answer(chain, {"id": 1, "method": "eth_getBlockByNumber", "params": [tag, False]})[
            "result"
        ]

    five, six = block("0x5"), block("0x6")
    assert isinstance(five, dict) and isinstance(six, dict)
    assert six["parentHash"] == five["hash"]
    assert block("latest")["number"] == "0xa"  # type: ignore[index]
    assert block("0xb") is None
    bad = answer(chain, {"id": 1, "method": "eth_getBlockByNumber", "params": ["0xzz"]})
    assert bad["error"]["code"] == -32602


def test_a_restarted_simulator_continues_the_same_chain(tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    first = rpc_chain.load_or_start(state, history=100, interval=1.0)
    again = rpc_chain.load_or_start(state, history=100, interval=1.0)
    assert again.started == first.started
    other = rpc_chain.load_or_start(state, history=200, interval=1.0)  # a different chain asked
    assert other.history == 200 and other.started >= first.started


@pytest.fixture
def server_url() -> Iterator[str]:
    chain = Chain(history=42, interval=1.0, started=1e12)
    (server,) = rpc_chain.serve(chain, ["127.0.0.1"], 0)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_over_http_single_batch_and_bad_json(server_url: str) -> None:
    single = httpx.post(server_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
    assert single.json()["result"] == "0x2a"
    batch = httpx.post(
        server_url,
        json=[{"id": 1, "method": "eth_chainId"}, {"id": 2, "method": "net_version"}],
    )
    assert [r["result"] for r in batch.json()] == [hex(rpc_chain.CHAIN_ID), str(rpc_chain.CHAIN_ID)]
    broken = httpx.post(server_url, content=b"{not json", headers={"Content-Type": "text/plain"})
    assert json.loads(broken.text)["error"]["code"] == -32700
