#!/usr/bin/python3
"""Stand-in for the indexers of docs/RECIPES.md: one image that speaks each recipe's interface, so
every recipe runs end to end as written (tests/integration/test_recipes_e2e.py).

Runs INSIDE the image: Python stdlib plus Debian's python3-psycopg (in the base image).

It reads the chain head — Ethereum JSON-RPC `eth_blockNumber` (hex) from RPC_URL,
PONDER_RPC_URL_1, RPC_ETH_HTTP or graph-node's `ethereum = "NAME:URL"`, or CometBFT's
`GET /status` (a decimal string) from `--rpc URL` — and indexes from START_BLOCK (0) at
INDEX_SPEED blocks/s. With a database (`--db URL`, DB_URL or DATABASE_URL) each batch is one
transaction that writes its rows to `public.indexed_blocks` and its progress to a schema of its
own (BOOKKEEPING_SCHEMA, default `squid_processor`, as SQD's processor does); on start it RESUMES
from that progress if it finds it — which is why bluegreen must drop every schema to re-index.

All on one port (PORT, else PROMETHEUS_PORT, else LISTEN_PORT — where the real service listens by
itself — else 8080), every interface at once; a recipe reads the one it describes:
  GET /health, /healthz, /           200 as soon as it listens (health is not readiness)
  GET /api/health/ready              {"status":"ok"} (a web app's)
  GET /ready                         503 until within READY_LAG of the head, then 200 (sticky)
  GET /progress                      {"indexed_block": N} (null before the first batch)
  GET /status                        Ponder: {"mainnet": {"block": {"number": N, …}, "ready": …}}
  POST /graphql                      graph-node indexingStatuses, numbers as decimal strings
  GET /metrics                       SQD `sqd_processor_last_block`, `sqd_processor_chain_height`
                                     (the head minus FINALITY_DEPTH, refreshed every
                                     CHAIN_HEIGHT_REFRESH s, never below its own height: it
                                     cannot show lag near the head), Envio `envio_progress_block`
  GET /meta                          SubQuery: targetHeight, currentProcessingHeight
Logs one line per batch ("indexed blocks 0..399 head 1500") and "caught up at N" when idle.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

TICK_SECONDS = 0.1


def log(text: str) -> None:
    sys.stdout.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} INFO {text}\n")
    sys.stdout.flush()


def argument(name: str) -> str:
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv[:-1] else ""


def number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def http_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def head_reader() -> tuple[str, Any]:
    """(where, read) for the chain head this indexer follows."""
    comet = argument("--rpc")
    if comet:
        url = comet.rstrip("/") + "/status"
        return url, lambda: int(http_json(url)["result"]["sync_info"]["latest_block_height"])
    rpc = (
        os.environ.get("RPC_URL")
        or os.environ.get("PONDER_RPC_URL_1")
        or os.environ.get("RPC_ETH_HTTP")
        # graph-node's own (lower-case) name: ethereum = "mainnet:http://…"
        or os.environ.get("ethereum", "").partition(":")[2]  # noqa: SIM112
    )
    if not rpc:
        return "", None
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    return rpc, lambda: int(http_json(rpc, call)["result"], 16)


class Store:
    """Rows in public.indexed_blocks, progress in a schema of its own; None = no database."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        self.schema = schema
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS public.indexed_blocks (height BIGINT PRIMARY KEY)"
        )
        self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".status (id INT PRIMARY KEY, height BIGINT)'
        )

    def resume_height(self) -> int | None:
        row = self.conn.execute(
            f'SELECT height FROM "{self.schema}".status WHERE id = 0'
        ).fetchone()
        return None if row is None else int(row[0])

    def write(self, first: int, last: int) -> None:
        with self.conn.transaction():
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO public.indexed_blocks (height) VALUES (%s) ON CONFLICT DO NOTHING",
                    [(h,) for h in range(first, last + 1)],
                )
            self.conn.execute(
                f'INSERT INTO "{self.schema}".status (id, height) VALUES (0, %s)'
                " ON CONFLICT (id) DO UPDATE SET height = excluded.height",
                (last,),
            )


class Indexer:
    def __init__(self) -> None:
        self.version = os.environ.get("VERSION", "dev")
        self.speed = max(1, int(number("INDEX_SPEED", 400)))
        self.ready_lag = int(number("READY_LAG", 0))
        self.finality = int(number("FINALITY_DEPTH", 10))
        self.chain_height_refresh = number("CHAIN_HEIGHT_REFRESH", 5.0)
        self.where, self.read_head = head_reader()
        db_url = argument("--db") or os.environ.get("DB_URL") or os.environ.get("DATABASE_URL")
        schema = os.environ.get("BOOKKEEPING_SCHEMA", "squid_processor")
        self.store = Store(db_url, schema) if db_url else None
        self.next_block = int(number("START_BLOCK", 0))
        self.block: int | None = None
        resumed = self.store.resume_height() if self.store else None
        if resumed is not None:
            log(f"last processed final block was {resumed}, resuming from {resumed + 1}")
            self.block, self.next_block = resumed, resumed + 1
        self.head: int | None = None
        self.reported_chain_height: int | None = None
        self.chain_height_at = 0.0
        self.ready = False
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self) -> None:
        last_idle_log = 0.0
        while not self.stop.is_set():
            try:
                head = self.read_head() if self.read_head else None
            except Exception as exc:  # the node is not up yet: retry, as real indexers do
                log(f"cannot read the chain head from {self.where}: {exc}; retrying")
                self.stop.wait(1.0)
                continue
            if head is None:
                log("no chain to follow: set RPC_URL (or --rpc for CometBFT)")
                self.stop.wait(5.0)
                continue
            first = self.next_block
            last = min(head, first + max(1, round(self.speed * TICK_SECONDS)) - 1)
            if last >= first:
                if self.store:
                    self.store.write(first, last)
                log(f"indexed blocks {first}..{last} head {head}")
                self.next_block = last + 1
            with self.lock:
                self.head = head
                if last >= first:
                    self.block = last
                now = time.monotonic()
                if now - self.chain_height_at >= self.chain_height_refresh:
                    self.reported_chain_height, self.chain_height_at = head - self.finality, now
                caught_up = self.block is not None and self.block >= head - self.ready_lag
                self.ready = self.ready or caught_up
            if caught_up and time.monotonic() - last_idle_log >= 1.0:
                last_idle_log = time.monotonic()
                log(f"caught up at {self.block}")
            self.stop.wait(TICK_SECONDS)

    def state(self) -> tuple[int | None, int | None, bool, int | None]:
        with self.lock:
            chain_height = self.reported_chain_height
            if chain_height is not None and self.block is not None:
                chain_height = max(chain_height, self.block)  # SQD's: never below its own height
            return self.block, self.head, self.ready, chain_height


def metrics(indexer: Indexer) -> str:
    block, head, _, chain_height = indexer.state()
    families = (  # a declared gauge without a sample is "no height yet", as the real ones do
        ("sqd_processor_last_block", "", block),
        ("sqd_processor_chain_height", "", chain_height),
        ("envio_progress_block", '{chainId="1"}', block),
        ("envio_indexing_known_height", '{chainId="1"}', head),
    )
    lines: list[str] = []
    for name, labels, value in families:
        lines.append(f"# TYPE {name} gauge")
        if value is not None:
            lines.append(f"{name}{labels} {value}")
    return "\n".join(lines) + "\n"


def answer_get(indexer: Indexer, path: str) -> tuple[int, Any]:
    block, head, ready, _ = indexer.state()
    if path in ("/health", "/healthz", "/"):
        return 200, f"recipe-indexer {indexer.version}\n"
    if path == "/api/health/ready":
        return 200, {"status": "ok", "version": indexer.version}
    if path == "/ready":
        return (200, "ready\n") if ready else (503, "backfilling\n")
    if path == "/progress":
        return 200, {"indexed_block": block, "version": indexer.version}
    if path == "/status":
        entry = None if block is None else {"number": block, "timestamp": int(time.time())}
        return 200, {"mainnet": {"block": entry, "ready": ready}}
    if path == "/metrics":
        return 200, metrics(indexer)
    if path == "/meta":
        return 200, {"targetHeight": head, "currentProcessingHeight": block}
    return 404, "Not Found\n"


def indexing_statuses(indexer: Indexer) -> dict[str, Any]:
    block, head, ready, _ = indexer.state()
    chain = {
        "chainHeadBlock": None if head is None else {"number": str(head)},
        "latestBlock": None if block is None else {"number": str(block)},
    }
    status = {"synced": ready, "health": "healthy", "chains": [chain]}
    return {"data": {"indexingStatuses": [status]}}


def make_handler(indexer: Indexer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            is_text = isinstance(payload, str)
            # Compact, as most services answer: a recipe's health_expect '"status":"ok"' matches.
            body = (payload if is_text else json.dumps(payload, separators=(",", ":"))).encode()
            self.send_response(status)
            kind = "text/plain; version=0.0.4" if is_text else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(*answer_get(indexer, self.path.split("?", 1)[0]))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path.split("?", 1)[0] == "/graphql":
                self._send(200, indexing_statuses(indexer))
            else:
                self._send(404, "Not Found\n")

    return Handler


def main() -> int:
    port = int(
        os.environ.get("PORT")
        or os.environ.get("PROMETHEUS_PORT")
        or os.environ.get("LISTEN_PORT")
        or 8080
    )
    indexer = Indexer()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        indexer.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(indexer))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"recipe-indexer {indexer.version} on port {port}, head from {indexer.where or 'nowhere'}")
    indexer.run()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
