"""Preview and canary end to end on the `web` sandbox (real Docker, nginx live mode, the agent):
the CLI's `canary` commands, `status --json`, and what clients through the proxy get."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PORT_BASE = ports.CANARY_SANDBOX.start
CLIENTS = 400


@pytest.fixture(scope="module")
def web() -> Iterator[Sandbox]:
    world = bring_up(profile="web", port_base=PORT_BASE)
    try:
        result = world.cli("deploy", "v2", "--switch", "never", "--wait", "--timeout", "120")
        assert result.returncode == 0, result.stdout + result.stderr
        yield world
    finally:
        tear_down(world.dir)


def colours(world: Sandbox, clients: int = CLIENTS) -> dict[int, str]:
    with httpx.Client(trust_env=False, timeout=5) as client:
        return {
            i: client.get(
                f"{world.proxy_url}/", headers={"Cookie": f"bluegreen_canary=user-{i}"}
            ).headers.get("X-Bluegreen-Color", "")
            for i in range(clients)
        }


def test_preview_reaches_green_while_blue_is_live(web: Sandbox) -> None:
    assert web.status()["live"] == "blue"
    with httpx.Client(trust_env=False, timeout=5) as client:
        plain = client.get(f"{web.proxy_url}/")
        header = client.get(f"{web.proxy_url}/", headers={"X-Bluegreen-Preview": "green"})
        cookie = client.get(f"{web.proxy_url}/", headers={"Cookie": "bluegreen_preview=green"})
    assert plain.headers["X-Bluegreen-Color"] == "blue" and "webapp v1" in plain.text
    assert header.headers["X-Bluegreen-Color"] == "green" and "webapp v2" in header.text
    assert cookie.headers["X-Bluegreen-Color"] == "green"
    snippet = web.cli("proxy", "snippet").stdout
    assert "geo $bluegreen_untrusted" in snippet and "return 403" in snippet


def test_canary_abort_and_promote_through_the_cli(web: Sandbox) -> None:
    result = web.cli("canary", "10", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    status = web.status()
    assert status["canary"] == {"color": "green", "percent": 10} and status["live"] == "blue"
    first = colours(web)
    share = sum(1 for c in first.values() if c == "green") / CLIENTS
    print(f"\nsandbox canary 10 % → {share:.1%} of {CLIENTS} distinct clients")
    assert 0.05 <= share <= 0.15
    assert colours(web) == first  # each client on the same colour again
    assert "canary: 10 % of clients to green" in web.cli("status").stdout
    time.sleep(2.5)  # two agent ticks: it must not take the canary for drift
    history = json.loads(web.cli("history", "--json").stdout)
    events = history["events"] if isinstance(history, dict) else history
    texts = [e["text"] for e in events]
    assert any(t.startswith("Canary: 10 % of clients to green") for t in texts)
    assert not any("changed outside bluegreen" in t for t in texts)

    result = web.cli("canary", "abort")
    assert result.returncode == 0, result.stdout + result.stderr
    assert web.status()["canary"] is None
    assert set(colours(web, 100).values()) == {"blue"}

    assert web.cli("canary", "10", "--yes").returncode == 0
    result = web.cli("canary", "promote", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    status = web.status()
    assert status["live"] == "green" and status["canary"] is None
    assert set(colours(web, 100).values()) == {"green"}
    refused = web.cli("canary", "promote", "--yes")
    assert refused.returncode == 1 and "no canary is running" in refused.stderr + refused.stdout
