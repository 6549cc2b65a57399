"""The agent's traffic figures end to end: requests through the sandbox's nginx show up per slot in
`status --json` and as the traffic line of `status`."""

from __future__ import annotations

import time

import httpx
import pytest

from tests import ports
from tests.integration.sandbox_fixture import bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PORT_BASE = ports.TRAFFIC_STATUS.start
REQUESTS = 30


def test_requests_through_the_proxy_reach_status() -> None:
    world = bring_up(profile="web", port_base=PORT_BASE)
    try:
        before = world.status()["slots"]["blue"]["traffic"]["requests_total"] or 0
        with httpx.Client(trust_env=False, timeout=5) as client:
            for _ in range(REQUESTS):
                client.get(f"{world.proxy_url}/")
        deadline = time.monotonic() + 15
        traffic: dict[str, object] = {}
        while time.monotonic() < deadline:
            traffic = world.status()["slots"]["blue"]["traffic"]
            total = traffic["requests_total"]
            if isinstance(total, int) and total >= before + REQUESTS:
                break
            time.sleep(0.5)
        assert isinstance(traffic["requests_total"], int), traffic
        assert traffic["requests_total"] >= before + REQUESTS, traffic
        assert set(traffic) == {
            "rps", "error_rate", "p50_ms", "p99_ms", "open_connections", "websockets",
            "requests_total", "mean_ms", "note",
        }  # fmt: skip
        assert traffic["open_connections"] == 0 and traffic["websockets"] == 0, traffic
        green = world.status()["slots"]["green"]["traffic"]
        assert not green["requests_total"], green  # nothing went to the idle colour
        out = world.cli("status").stdout
        assert "blue: traffic " in out and "req/s" in out, out
    finally:
        tear_down(world.dir)
