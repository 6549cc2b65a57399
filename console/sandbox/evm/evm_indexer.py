#!/usr/bin/python3
"""Stand-in for an EVM indexer (Ponder-, SQD- or Envio-shaped) for the `evm` sandbox profile.

Runs INSIDE the sandbox image: Python stdlib only (Debian bookworm's python3).

It reads the chain head over JSON-RPC (`eth_blockNumber`, a hex string) from RPC_URL, indexes from
START_BLOCK at INDEX_SPEED blocks/s, and reports its progress the ways real indexers do, all on
PORT: `GET /status` → {"block": N, "head": H, "ready": …} (`block` is null before the first batch,
as Ponder's is), `GET /metrics` → Prometheus text gauges `evm_indexer_last_block{chain="…"}` and
`evm_indexer_chain_head{chain="…"}` (absent before the first batch), one JSON object per log line.
`/health` is 200 as soon as it listens; `/ready` is 503 until the indexer is within READY_LAG
blocks of the head, then 200 and sticky — as Ponder's is, so a lag gate is what makes it safe.

Env: PORT (8080), RPC_URL, VERSION, INDEX_SPEED (400), START_BLOCK (0), READY_LAG (0),
HEAD_POLL_SECONDS (1.0), and test knobs STALL_AT_BLOCK, CRASH_AT_BLOCK.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

TICK_SECONDS = 0.1


def log(level: str, msg: str, **fields: object) -> None:
    record: dict[str, object] = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "msg": msg,
    }
    record.update(fields)
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        log("error", "not a whole number, ignored", variable=name, value=raw)
        return default


class RpcError(Exception):
    pass


def rpc(url: str, method: str, params: list[object] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, body.encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RpcError(f"{method} to {url} failed: {exc}") from exc
    if "error" in answer:
        raise RpcError(f"{method}: {answer['error'].get('message', answer['error'])}")
    return answer.get("result")


class Indexer:
    def __init__(self, rpc_url: str, version: str) -> None:
        self.rpc_url = rpc_url
        self.version = version
        self.speed = max(1, env_int("INDEX_SPEED", 400) or 400)
        self.block: int | None = None  # last indexed block; None before the first batch
        self.next_block = max(0, env_int("START_BLOCK", 0) or 0)
        self.head: int | None = None
        self.chain_id = "unknown"
        self.ready_lag = max(0, env_int("READY_LAG", 0) or 0)
        self.head_poll = float(os.environ.get("HEAD_POLL_SECONDS") or 1.0)
        self.stall_at = env_int("STALL_AT_BLOCK", None)
        self.crash_at = env_int("CRASH_AT_BLOCK", None)
        self.ready = False  # sticky once true, like Ponder's
        self.rate = 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def status(self) -> dict[str, object]:
        with self.lock:
            return {
                "block": self.block,
                "head": self.head,
                "ready": self.ready,
                "blocks_per_second": round(self.rate, 1),
                "chain_id": self.chain_id,
                "version": self.version,
            }

    def metrics(self) -> str:
        with self.lock:
            block, head, chain = self.block, self.head, self.chain_id
        lines = [
            "# HELP evm_indexer_last_block The last block this indexer has indexed.",
            "# TYPE evm_indexer_last_block gauge",
        ]
        if block is not None:
            lines.append(f'evm_indexer_last_block{{chain="{chain}"}} {block}')
        lines += [
            "# HELP evm_indexer_chain_head The chain head as this indexer last read it.",
            "# TYPE evm_indexer_chain_head gauge",
        ]
        if head is not None:
            lines.append(f'evm_indexer_chain_head{{chain="{chain}"}} {head}')
        lines += [
            "# HELP evm_indexer_ready 1 once the indexer has caught up (sticky).",
            "# TYPE evm_indexer_ready gauge",
            f"evm_indexer_ready {1 if self.ready else 0}",
        ]
        return "\n".join(lines) + "\n"

    def read_head(self) -> None:
        if self.chain_id == "unknown":
            self.chain_id = str(int(rpc(self.rpc_url, "eth_chainId"), 16))
        head = int(rpc(self.rpc_url, "eth_blockNumber"), 16)
        with self.lock:
            self.head = head

    def run(self) -> None:
        last_head_read = 0.0
        last_idle_log = 0.0
        backoff = 0.5
        window: list[tuple[float, int]] = []
        while not self.stop.is_set():
            now = time.monotonic()
            if now - last_head_read >= self.head_poll:
                try:
                    self.read_head()
                    last_head_read, backoff = now, 0.5
                except RpcError as exc:
                    log(
                        "error",
                        "cannot read the chain head, retrying",
                        error=str(exc),
                        retry_seconds=backoff,
                    )
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
            assert self.head is not None
            budget = max(1, round(self.speed * TICK_SECONDS))
            last = min(self.head, self.next_block + budget - 1)
            if self.stall_at is not None:
                last = min(last, self.stall_at)
            if last >= self.next_block:
                self.index(self.next_block, last, now, window)
            elif now - last_idle_log >= 1.0:
                last_idle_log = now
                log("info", "caught up", block=self.block, head=self.head)
            self.stop.wait(TICK_SECONDS)

    def index(self, first: int, last: int, now: float, window: list[tuple[float, int]]) -> None:
        if self.crash_at is not None and first <= self.crash_at <= last:
            log("error", "panic while indexing", block=self.crash_at)
            os._exit(101)  # as a Rust panic would end the process
        window.append((now, last))
        del window[:-20]
        with self.lock:
            self.block = last
            if len(window) > 1 and window[-1][0] > window[0][0]:
                self.rate = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
            assert self.head is not None
            became_ready = not self.ready and last >= self.head - self.ready_lag
            if became_ready:
                self.ready = True
        self.next_block = last + 1
        log(
            "info",
            "indexed blocks",
            first=first,
            last=last,
            head=self.head,
            blocks=last - first + 1,
        )
        if became_ready:
            log("info", "backfill complete, ready", block=last, head=self.head)


def make_handler(indexer: Indexer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes; no delayed-ACK stall
        timeout = 300

        def version_string(self) -> str:
            return f"evm-indexer/{indexer.version}"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the log is the indexer's progress, as JSON lines

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            text = "text/plain; charset=utf-8"
            if path == "/health":
                self._send(200, b"OK", text)
            elif path == "/ready":
                ready = indexer.status()["ready"]
                self._send(200 if ready else 503, b"ready" if ready else b"backfilling", text)
            elif path == "/status":
                self._send(200, json.dumps(indexer.status()).encode(), "application/json")
            elif path == "/metrics":
                self._send(200, indexer.metrics().encode(), "text/plain; version=0.0.4")
            elif path == "/":
                page = f"evm-indexer {indexer.version}: block {indexer.status()['block']}\n"
                self._send(200, page.encode(), text)
            else:
                self._send(404, b"Not Found", text)

        do_HEAD = do_GET

    return Handler


def main() -> int:
    version = os.environ.get("VERSION", "dev")
    rpc_url = os.environ.get("RPC_URL", "")
    if not rpc_url:
        log("error", "RPC_URL is not set: point it at the chain's JSON-RPC endpoint")
        return 1
    port = int(os.environ.get("PORT", "8080"))
    indexer = Indexer(rpc_url, version)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        indexer.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(indexer))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log(
        "info",
        "evm-indexer starting",
        version=version,
        port=port,
        speed=indexer.speed,
        start_block=indexer.next_block,
    )
    indexer.run()
    log("info", "received shutdown signal, exiting")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
