"""A `log` source and a `prometheus` source each track a real candidate container to readiness;
without a [candidate], the same container is ready by health, a readiness check and
min_ready_seconds alone.

The container (on the local `bluegreen-base:bookworm` image) indexes from 1,000 to a target,
printing `Processing block height 1,040 with 0 transactions` lines (with ANSI colours, like the
reference service) and serving SQD-style Prometheus gauges on its published port. A SlotWatch
built from TOML by the real loader and the drivers' table follows it: height, head, lag and speed
while it catches up, then READY once the lag is held. The log test takes its head from a JSON-RPC
server on loopback (hex); the Prometheus test from the gauge the container reports itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.agent.samplers import Sampled, sample_round
from console.agent.slot_watch import SlotWatch
from console.core.config.load import parse_config
from console.core.config.schema import Config
from console.core.model import SlotState, SlotStatus
from console.drivers.progress import make_head_source
from console.wiring import open_installation
from tests.integration.script_containers import free_port, script_container
from tests.unit.loopback_http import loopback_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PREFIX = "bgtest-src-"
TARGET = 3000
INDEXER = r"""
import http.server, os, threading, time
height, target = 1000, int(os.environ["TARGET"])
def index():
    global height
    time.sleep(1.0)  # starting up: no height yet
    while True:
        if height < target:
            height = min(target, height + 40)
            print(f"\x1b[32mINFO\x1b[0m Processing block height {height:,} with 0 transactions",
                  flush=True)
        time.sleep(0.1)
threading.Thread(target=index, daemon=True).start()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, body = 200, b"OK"
        if self.path == "/metrics":
            body = ("# TYPE sqd_processor_last_block gauge\n"
                    f"sqd_processor_last_block {height}\n"
                    "# TYPE sqd_processor_chain_height gauge\n"
                    f"sqd_processor_chain_height {target}\n").encode()
        elif self.path == "/ready" and height < target:
            status, body = 503, b"catching up"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever(poll_interval=0.1)
"""

CONFIG = """
service = "src"
state_dir = "{state}"
[image]
repository = "bluegreen-base"
[slots.blue]
container = "{container}"
host_port = {port}
[slots.green]
container = "{container}-green"
host_port = {other}
[readiness]
max_lag = 0
hold_seconds = 1
log_pattern = ""
health_path = "/metrics"
"""


@pytest.fixture()
def indexer(base_image: str) -> Iterator[tuple[str, int]]:
    with script_container(
        PREFIX, uuid.uuid4().hex[:6], INDEXER, env={"TARGET": str(TARGET)},
        labels={"bgtest.src": "1"}, restart_policy="no",
    ) as started:  # fmt: skip
        yield started


def follow(watch: SlotWatch, head: int | None, timeout: float = 40.0) -> list[SlotStatus]:
    """Observe like the agent does (a sample round, then one tick, every 0.25 s) until READY;
    return every status. `head` stands for the agent's own head reading."""
    seen: list[SlotStatus] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sample_round(watch.wanted(), 0.5)
        agents_head: Sampled[int | None] = Sampled(head, time.time(), None, None, 1)
        status = watch.observe(time.time(), agents_head, None, None, None)
        seen.append(status)
        if status.state == SlotState.READY:
            return seen
        time.sleep(0.25)
    raise AssertionError(f"never ready; last: {seen[-1] if seen else None}")


def assert_tracked_to_ready(seen: list[SlotStatus]) -> None:
    syncing = [s for s in seen if s.state == SlotState.SYNCING]
    assert syncing, [s.state for s in seen]
    first, last_syncing = syncing[0], syncing[-1]
    assert first.height is not None and first.head == TARGET and first.lag == TARGET - first.height
    assert last_syncing.height is not None and last_syncing.height > first.height
    assert any(s.speed is not None and s.speed > 100 for s in syncing)  # ~400 blocks/s
    assert any(s.eta_seconds is not None for s in syncing)
    ready = seen[-1]
    assert ready.height == TARGET and ready.lag == 0 and ready.ready
    assert {c.name for c in ready.conditions} >= {"lag ≤ 0 held 1 s", "health /metrics"}


def config_text(tmp_path: Path, container: str, port: int, extra: str) -> str:
    return (
        CONFIG.format(state=tmp_path / "state", container=container, port=port, other=free_port())
        + extra
    )


def follow_config(config: Config, head: int | None = None) -> list[SlotStatus]:
    """Follow blue of `config` to READY as the agent would (see `follow`)."""
    inst = open_installation(config)
    watch = SlotWatch(config, "blue", lambda: inst.runtime, inst.redactor)
    try:
        return follow(watch, head)
    finally:
        watch.close()


def test_a_log_source_tracks_a_container_to_ready(indexer: tuple[str, int], tmp_path: Path) -> None:
    container, port = indexer
    with loopback_server() as rpc:
        rpc.json("/", {"jsonrpc": "2.0", "id": 1, "result": hex(TARGET)})
        config = parse_config(
            config_text(
                tmp_path,
                container,
                port,
                f'[head]\nkind = "jsonrpc"\nurl = "{rpc.url("/")}"\n'
                'rpc_method = "eth_blockNumber"\n'
                '[candidate]\nkind = "log"\npattern = "Processing block height ([\\\\d,]+)"\n',
            )
        )
        head_source = make_head_source(config)
        assert head_source is not None
        head = head_source.read().height
        head_source.close()
        assert head == TARGET
        seen = follow_config(config, head)
    assert seen[0].state == SlotState.STARTING and seen[0].height is None  # no line yet
    assert_tracked_to_ready(seen)


def test_a_prometheus_source_with_its_own_head_tracks_a_container_to_ready(
    indexer: tuple[str, int], tmp_path: Path
) -> None:
    container, port = indexer
    config = parse_config(
        config_text(
            tmp_path,
            container,
            port,
            '[candidate]\nkind = "prometheus"\nurl = "http://127.0.0.1:{host_port}/metrics"\n'
            'metric = "sqd_processor_last_block"\nhead_metric = "sqd_processor_chain_height"\n',
        )
    )
    assert config.effective_head is None  # the head comes from the colour's own scrape
    seen = follow_config(config)
    assert_tracked_to_ready(seen)


def test_without_catch_up_readiness_is_health_checks_and_min_ready_seconds(
    indexer: tuple[str, int], tmp_path: Path
) -> None:
    container, port = indexer
    config = parse_config(
        config_text(
            tmp_path,
            container,
            port,
            "min_ready_seconds = 2\n"
            '[[readiness.checks]]\nurl = "http://127.0.0.1:{host_port}/ready"\n',
        )
        .replace('health_path = "/metrics"', 'health_path = "/health"')
        .replace("max_lag = 0\nhold_seconds = 1\n", "")  # no catch-up: no lag rule
    )
    assert not config.catchup
    seen = follow_config(config)
    assert all(s.height is None and s.head is None and s.lag is None for s in seen)
    assert {s.state for s in seen[:-1]} == {SlotState.STARTING}  # never SYNCING: no catch-up
    names = [c.name for c in seen[-1].conditions]
    assert names == ["health /health", "check /ready", "ready held 2 s"]
    waiting = [s for s in seen if any(c.detail == "HTTP 503, expected 200" for c in s.conditions)]
    assert waiting, "the /ready check was never seen failing while the container caught up"
    first_all_met = next(
        s for s in seen if all(c.met for c in s.conditions if c.name != "ready held 2 s")
    )
    assert seen[-1].updated_at - first_all_met.updated_at >= 2.0  # held, not just met
