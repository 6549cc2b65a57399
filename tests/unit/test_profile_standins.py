"""The web and evm stand-ins as plain processes (the images only add a file system around them):
readiness that turns after a delay, progress on the indexer's own port as JSON and as a
Prometheus gauge, JSON log lines, and a sticky /ready once caught up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from console.sandbox import rpc_chain
from tests import ports

SANDBOX = Path(__file__).resolve().parents[2] / "console" / "sandbox"
WEBAPP = SANDBOX / "webapp" / "webapp.py"
EVM_INDEXER = SANDBOX / "evm" / "evm_indexer.py"


_PORTS = ports.unused(ports.PROFILE_STANDINS)


def free_port() -> int:
    return next(_PORTS)


def wait_for(what: str, condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


def start(script: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=10)
    return out


def test_webapp_is_healthy_at_once_and_ready_after_its_delay() -> None:
    port = free_port()
    app = start(WEBAPP, {"PORT": str(port), "VERSION": "v2", "READY_AFTER_SECONDS": "1.5"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("listening", lambda: httpx.get(f"{base}/health").status_code == 200)
        started = time.monotonic()
        assert httpx.get(f"{base}/api/health/ready").status_code == 503
        assert httpx.get(f"{base}/ready").status_code == 503
        wait_for("ready", lambda: httpx.get(f"{base}/api/health/ready").status_code == 200)
        assert time.monotonic() - started >= 1.0
        assert httpx.get(f"{base}/api/health/ready").text == "ready"
        page = httpx.get(base + "/")
        assert page.status_code == 200 and "webapp v2" in page.text
        assert httpx.get(f"{base}/version").json() == {"service": "webapp", "version": "v2"}
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        out = stop(app)
    assert "listening on 0.0.0.0" in out
    assert '"GET /api/health/ready" 503' in out and '"GET /api/health/ready" 200' in out


def test_webapp_failure_injection_fails_that_share_of_posts_and_slows_answers() -> None:
    port = free_port()
    env = {"PORT": str(port), "READY_AFTER_SECONDS": "0", "FAIL_POST_RATE": "0.25", "SLOW_MS": "80"}
    app = start(WEBAPP, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("listening", lambda: httpx.get(f"{base}/health").status_code == 200)
        with httpx.Client(timeout=5) as client:
            codes = [client.post(f"{base}/", content=b"{}").status_code for _ in range(40)]
            assert codes.count(500) == 10 and codes.count(200) == 30, codes  # exactly the share
            assert all(client.get(f"{base}/").status_code == 200 for _ in range(5))  # GETs pass
            started = time.monotonic()
            client.get(f"{base}/version")
            assert time.monotonic() - started >= 0.08  # SLOW_MS on the app's answers…
            started = time.monotonic()
            client.get(f"{base}/health")
            client.get(f"{base}/api/health/ready")
            assert time.monotonic() - started < 0.08  # …but not on health and readiness
    finally:
        out = stop(app)
    assert "failure injection: FAIL_POST_RATE=0.25 SLOW_MS=80" in out


@pytest.fixture
def chain_url() -> Iterator[str]:
    # 300 blocks of history; a block every 0.2 s keeps the head moving during the test.
    chain = rpc_chain.Chain(history=300, interval=0.2, started=time.time())
    (server,) = rpc_chain.serve(chain, ["127.0.0.1"], 0)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_evm_indexer_reports_progress_three_ways_and_turns_ready(chain_url: str) -> None:
    port = free_port()
    indexer = start(
        EVM_INDEXER,
        {"PORT": str(port), "RPC_URL": chain_url, "INDEX_SPEED": "500", "VERSION": "v2"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("listening", lambda: httpx.get(f"{base}/health").status_code == 200)
        seen: list[int] = []

        def progressing() -> bool:
            status = httpx.get(f"{base}/status").json()
            if status["block"] is not None:
                seen.append(status["block"])
                assert httpx.get(f"{base}/ready").status_code in (200, 503)
            return len(set(seen)) >= 3

        wait_for("indexing", progressing)
        assert seen == sorted(seen)
        wait_for("caught up", lambda: httpx.get(f"{base}/ready").status_code == 200, 15)
        status = httpx.get(f"{base}/status").json()
        assert status["ready"] is True and status["version"] == "v2"
        assert status["head"] - status["block"] <= 3
        metrics = httpx.get(f"{base}/metrics").text
        chain_id = rpc_chain.CHAIN_ID
        assert f'evm_indexer_last_block{{chain="{chain_id}"}} ' in metrics
        assert f'evm_indexer_chain_head{{chain="{chain_id}"}} ' in metrics
        assert "# TYPE evm_indexer_last_block gauge" in metrics
    finally:
        out = stop(indexer)
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    messages = {record["msg"] for record in records}
    assert {"evm-indexer starting", "indexed blocks", "backfill complete, ready"} <= messages
    assert all({"ts", "level", "msg"} <= record.keys() for record in records)


def test_evm_indexer_without_a_chain_has_no_height_yet_and_says_why() -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    indexer = start(EVM_INDEXER, {"PORT": str(port), "RPC_URL": dead})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("listening", lambda: httpx.get(f"{base}/health").status_code == 200)
        assert httpx.get(f"{base}/status").json()["block"] is None
        assert httpx.get(f"{base}/ready").status_code == 503
        assert "evm_indexer_last_block{" not in httpx.get(f"{base}/metrics").text
        time.sleep(0.3)
    finally:
        out = stop(indexer)
    errors = [json.loads(line) for line in out.splitlines() if '"error"' in line]
    assert errors and "cannot read the chain head" in errors[0]["msg"]


def test_evm_indexer_ready_early_with_ready_lag_is_sticky(chain_url: str) -> None:
    # Ponder-like: /ready turns 200 while still far behind, and stays 200.
    port = free_port()
    indexer = start(
        EVM_INDEXER,
        {"PORT": str(port), "RPC_URL": chain_url, "INDEX_SPEED": "50", "READY_LAG": "100000"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("ready", lambda: httpx.get(f"{base}/ready").status_code == 200)
        status = httpx.get(f"{base}/status").json()
        assert status["head"] - status["block"] > 100  # ready, and nowhere near caught up
    finally:
        stop(indexer)


def test_evm_indexer_without_rpc_url_exits_with_a_sentence() -> None:
    result = subprocess.run(
        [sys.executable, str(EVM_INDEXER)],
        env={k: v for k, v in os.environ.items() if k != "RPC_URL"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 1
    assert "RPC_URL is not set" in json.loads(result.stdout)["msg"]


def test_recipe_indexer_speaks_each_recipes_interface(chain_url: str) -> None:
    """The recipe stand-in (tests/integration/test_recipes_e2e.py runs it in its image): one
    height, shown the way Ponder, graph-node, SQD, Envio and SubQuery show theirs."""
    port = free_port()
    indexer = start(
        SANDBOX / "recipe" / "recipe_indexer.py",
        {"LISTEN_PORT": str(port), "RPC_URL": chain_url, "INDEX_SPEED": "3000",
         "FINALITY_DEPTH": "50", "CHAIN_HEIGHT_REFRESH": "60"},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("caught up", lambda: httpx.get(f"{base}/ready").status_code == 200)
        block = httpx.get(f"{base}/progress").json()["indexed_block"]
        assert block >= 300  # the chain's history
        ponder = httpx.get(f"{base}/status").json()["mainnet"]
        assert ponder["ready"] is True and abs(ponder["block"]["number"] - block) <= 2
        graph = httpx.post(f"{base}/graphql", json={"query": "{}"}).json()
        (chain,) = graph["data"]["indexingStatuses"][0]["chains"]
        assert isinstance(chain["latestBlock"]["number"], str)  # decimal strings, as graph-node's
        metrics = httpx.get(f"{base}/metrics").text
        gauges = dict(
            line.rsplit(" ", 1) for line in metrics.splitlines() if not line.startswith("#")
        )
        last, chain_height = (
            int(gauges["sqd_processor_last_block"]),
            int(gauges["sqd_processor_chain_height"]),
        )
        # SQD's chain height: the head minus the finality depth when last refreshed, never
        # below its own height; near the head it equals it, so lag against it is 0 (RECIPES.md
        # recipe 8 says so, and measures against the chain's RPC instead).
        assert chain_height == last
        assert httpx.get(f"{base}/meta").json()["currentProcessingHeight"] is not None
        assert httpx.get(f"{base}/api/health/ready").json()["status"] == "ok"
    finally:
        log = stop(indexer)
    assert "indexed blocks 0.." in log and "caught up at" in log
