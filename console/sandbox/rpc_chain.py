"""An EVM chain simulator for the `evm` sandbox profile: Ethereum JSON-RPC over HTTP, on loopback
and the Docker bridge gateway (how containers reach a host service), a block every interval.

The chain starts `history` blocks high and grows by one block per interval, which is what makes
the head move while a candidate catches up. The start time is kept in a state file so a restarted
simulator continues the same chain instead of jumping back.

Answers what indexers ask for first — `eth_blockNumber` (a hex string, as real nodes answer),
`eth_chainId`, `net_version`, `web3_clientVersion`, `eth_getBlockByNumber` (deterministic hashes) —
as single or batch requests; anything else gets a JSON-RPC `error` member (-32601), bad JSON -32700.
`GET /status` answers as a CometBFT node does (`result.sync_info.latest_block_height`, a string).

CLI: `python -m console.sandbox.rpc_chain --port P --listen 127.0.0.1 --listen GW --history N
--interval 1.0 --state FILE`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

CHAIN_ID = 1337
BLOCK_SECONDS = 12  # the pretend block time of the seeded past (timestamps only)
CLIENT_VERSION = "bluegreen-sandbox-chain/1.0"


class Chain:
    """Height as a function of time: `history` at `started`, then +1 per `interval` seconds."""

    def __init__(self, history: int, interval: float, started: float) -> None:
        self.history = history
        self.interval = interval
        self.started = started

    def head(self, now: float | None = None) -> int:
        elapsed = max(0.0, (time.time() if now is None else now) - self.started)
        return self.history + math.floor(elapsed / self.interval)

    def block(self, number: int) -> dict[str, Any]:
        def digest(height: int) -> str:
            return "0x" + hashlib.sha256(f"{CHAIN_ID}:{height}".encode()).hexdigest()

        timestamp = int(self.started) - (self.history - number) * BLOCK_SECONDS
        return {
            "number": hex(number),
            "hash": digest(number),
            "parentHash": digest(number - 1) if number > 0 else "0x" + "0" * 64,
            "timestamp": hex(max(0, timestamp)),
            "transactions": [],
            "gasUsed": "0x0",
        }


def load_or_start(state: Path | None, history: int, interval: float) -> Chain:
    """The chain recorded in `state` if it has this `history`/`interval`; else a new one, saved."""
    if state is not None:
        try:
            saved = json.loads(state.read_text())
            if saved.get("history") == history and saved.get("interval") == interval:
                return Chain(history, interval, float(saved["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    chain = Chain(history, interval, time.time())
    if state is not None:
        record = {"history": history, "interval": interval, "started": chain.started}
        temporary = state.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(state)
    return chain


def _error(request_id: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _block_number(chain: Chain, tag: object) -> int | None:
    head = chain.head()
    if tag in ("latest", "safe", "finalized", "pending", None):
        return head
    if tag == "earliest":
        return 0
    if isinstance(tag, str) and tag.startswith("0x"):
        return int(tag, 16)
    return None


def answer(chain: Chain, request: object) -> dict[str, Any]:
    """The JSON-RPC 2.0 response object for one request object."""
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        return _error(None, -32600, "Invalid Request")
    request_id = request.get("id")
    method = request["method"]
    params = request.get("params") or []
    results: dict[str, Callable[[], object]] = {
        "eth_blockNumber": lambda: hex(chain.head()),
        "eth_chainId": lambda: hex(CHAIN_ID),
        "net_version": lambda: str(CHAIN_ID),
        "web3_clientVersion": lambda: CLIENT_VERSION,
        "eth_syncing": lambda: False,
    }
    if method in results:
        return {"jsonrpc": "2.0", "id": request_id, "result": results[method]()}
    if method == "eth_getBlockByNumber":
        try:
            number = _block_number(chain, params[0] if params else None)
        except ValueError:
            number = None
        if number is None:
            return _error(request_id, -32602, "invalid argument 0: hex string or block tag")
        found = chain.block(number) if 0 <= number <= chain.head() else None
        return {"jsonrpc": "2.0", "id": request_id, "result": found}
    return _error(request_id, -32601, f"the method {method} does not exist/is not available")


def make_handler(chain: Chain) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        timeout = 60

        def log_message(self, format: str, *args: object) -> None:
            pass  # the agent polls every second; a line per poll would only fill the log

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            try:
                request = json.loads(raw)
            except ValueError:
                self._send(200, _error(None, -32700, "Parse error"))
                return
            if isinstance(request, list):
                self._send(200, [answer(chain, item) for item in request])
            else:
                self._send(200, answer(chain, request))

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/status":  # CometBFT's, for recipes that read it
                sync_info = {"latest_block_height": str(chain.head()), "catching_up": False}
                self._send(200, {"jsonrpc": "2.0", "id": -1, "result": {"sync_info": sync_info}})
                return
            # Not JSON-RPC; a convenience for people poking at it with curl.
            self._send(200, {"head": chain.head(), "chain_id": CHAIN_ID})

    return Handler


def serve(chain: Chain, addresses: Sequence[str], port: int) -> list[ThreadingHTTPServer]:
    """One server per address (never 0.0.0.0: the chain is for this host and its containers)."""
    servers = []
    for address in addresses:
        server = ThreadingHTTPServer((address, port), make_handler(chain))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"rpc-{address}", daemon=True).start()
        servers.append(server)
    return servers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--listen", action="append", default=[], metavar="ADDRESS")
    parser.add_argument("--history", type=int, default=20_000, metavar="BLOCKS")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--state", type=Path, default=None, metavar="FILE")
    args = parser.parse_args(argv)
    chain = load_or_start(args.state, args.history, args.interval)
    try:
        servers = serve(chain, args.listen or ["127.0.0.1"], args.port)
    except OSError as exc:
        print(f"rpc_chain: cannot listen on port {args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        f"rpc_chain: chain {CHAIN_ID} at block {chain.head()}, +1 every {args.interval:g}s, "
        f"JSON-RPC on {', '.join(args.listen or ['127.0.0.1'])} port {args.port}",
        flush=True,
    )
    stop.wait()
    for server in servers:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
