"""The `evm` profile: an EVM chain simulator on this host (JSON-RPC, hex heights, a block a second)
and an indexer stand-in that reports its progress on its own port. The head comes from
`eth_blockNumber` (`kind = "jsonrpc"`), each colour's height from its `/status` (`kind = "http"`),
and its sticky `/ready` is an extra readiness check — on top of the lag test, never instead."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from console.sandbox.images import EVM_INDEXER_REPOSITORY
from console.sandbox.procs import spawn, wait_until
from console.sandbox.profiles.base import (
    Context,
    Probe,
    catchup_readiness,
    single_file,
    slots,
)

CHAIN_HOSTNAME = "chain.sandbox"  # what containers dial; mapped to the bridge gateway


class EvmProfile:
    name = "evm"
    service = "evm-indexer"
    repository = EVM_INDEXER_REPOSITORY
    summary = "EVM indexer: JSON-RPC head (hex), height from the indexer's own /status"
    v1_env: Mapping[str, str] = MappingProxyType({"INDEX_SPEED": "100000"})
    probe = Probe("GET", "/status")
    secrets = False
    extra_ports: tuple[str, ...] = ("rpc",)

    def start(self, ctx: Context) -> dict[str, int]:
        port = ctx.ports.rpc
        ctx.say(
            f"Starting the EVM chain simulator (JSON-RPC) on 127.0.0.1:{port} and "
            f"{ctx.gateway}:{port}, {ctx.history:,} blocks of history…"
        )
        pid = spawn(
            [
                sys.executable,
                "-m",
                "console.sandbox.rpc_chain",
                "--port",
                str(port),
                "--listen",
                "127.0.0.1",
                "--listen",
                ctx.gateway,
                "--history",
                str(ctx.history),
                "--interval",
                "1.0",
                "--state",
                str(ctx.directory / "chain.json"),
            ],
            ctx.directory / "chain.log",
        )
        wait_until(
            lambda: block_number(f"http://127.0.0.1:{port}") >= ctx.history,
            15,
            f"the chain simulator did not answer on 127.0.0.1:{port} (see "
            f"{ctx.directory / 'chain.log'})",
        )
        return {"chain": pid}

    def stop(self, directory: Path, ports: dict[str, int]) -> None:
        return None  # the simulator is a pid; its state file goes with the directory

    def render_config(self, ctx: Context) -> str:
        return single_file(self, ctx)

    def render_service(self, ctx: Context) -> str:
        rpc = ctx.ports.rpc
        env = f'PORT = "{{port}}", INDEX_SPEED = "{ctx.speed}", RPC_URL = "http://{CHAIN_HOSTNAME}:{rpc}"'
        return (
            f'''
[image]
repository = "{self.repository}"
env = {{ {env} }}
extra_hosts = {{ "{CHAIN_HOSTNAME}" = "{ctx.gateway}" }}   # the host, seen from the bridge
container_port = 8080
restart_policy = "unless-stopped"
stop_timeout_seconds = 5
start_timeout_seconds = 60

[head]
kind = "jsonrpc"             # POST eth_blockNumber; the result is a hex string
url = "http://127.0.0.1:{rpc}"
rpc_method = "eth_blockNumber"

[candidate]
kind = "http"                # the indexer's own progress endpoint, on the colour's port
url = "http://127.0.0.1:{{host_port}}/status"
field = "block"
'''
            + slots(ctx, self.service, with_db=False)
            + catchup_readiness("", 'smoke_method = "GET"\nsmoke_path = "/status"')
            + """
[[readiness.checks]]           # sticky once caught up: it adds to the lag test, never replaces it
url = "http://127.0.0.1:{host_port}/ready"
expect_status = 200
"""
        )


def block_number(url: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
    request = urllib.request.Request(
        url, body.encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return int(json.loads(response.read())["result"], 16)
