"""Issue 9's acceptance for a service that does not re-index: the `web` sandbox profile (real
Docker, nginx; no database anywhere) deploys v2, becomes ready by its ready endpoint held for
`min_ready_seconds` — never earlier — switches, and rolls back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from console.core.config.load import load_config
from console.core.model import SlotState
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PORT_BASE = ports.PROFILE_WEB.start


@pytest.fixture(scope="module")
def web() -> Iterator[Sandbox]:
    world = bring_up(profile="web", port_base=PORT_BASE)
    try:
        yield world
    finally:
        tear_down(world.dir)


def test_web_profile_is_up_without_a_database(web: Sandbox) -> None:
    state = web.sandbox_status()
    assert state["up"] is True and state["profile"] == "web" and state["service"] == "webapp"
    assert "postgres" not in state["ports"] and "postgres" not in state["running"]
    text = web.config.read_text()
    assert "db_url" not in text and "[source]" not in text
    assert not (web.dir / "secrets.env").exists() and not (web.dir / "pg").exists()
    assert web.cli("config", "check").returncode == 0
    status = web.status()
    assert status["live"] == "blue" and status["slots"]["blue"]["state"] == "live"
    assert web.served_by() == "blue"
    assert "webapp v1" in httpx.get(f"{web.proxy_url}/").text


def test_v2_is_ready_by_health_and_min_ready_seconds_then_switch_and_rollback(
    web: Sandbox,
) -> None:
    config = load_config(str(web.config))
    min_ready = config.readiness.min_ready_seconds
    assert min_ready >= 3, "the test needs a hold long enough to tell apart from sampling"
    green_ready_url = f"http://127.0.0.1:{config.slots['green'].host_port}/api/health/ready"

    result = web.cli("deploy", "v2", "--switch", "never")
    assert result.returncode == 0, result.stdout + result.stderr
    console = open_console(config, read_only=True)
    try:
        saw_not_ready = False
        endpoint_ready_at: float | None = None  # when green's own ready endpoint first said 200
        gate_ready_at: float | None = None
        deadline = time.monotonic() + 90
        while gate_ready_at is None and time.monotonic() < deadline:
            now = time.monotonic()
            try:
                code = httpx.get(green_ready_url, timeout=1).status_code
            except httpx.HTTPError:
                code = 0
            saw_not_ready |= code == 503
            if code == 200 and endpoint_ready_at is None:
                endpoint_ready_at = now
            green = console.status().slots["green"]
            assert green.state != SlotState.FAILED, green.reason
            if green.state == SlotState.READY:
                gate_ready_at = now
                # Held, not instant: it must not be ready before min_ready_seconds have passed.
                assert endpoint_ready_at is not None, "ready before its endpoint answered 200"
                assert now - endpoint_ready_at >= min_ready - 0.3, (
                    f"ready {now - endpoint_ready_at:.1f} s after its endpoint turned 200; "
                    f"min_ready_seconds is {min_ready}"
                )
            time.sleep(0.1)
        assert saw_not_ready, "the test never saw the ready endpoint answer 503 first"
        assert gate_ready_at is not None and endpoint_ready_at is not None, "green never ready"
        held = gate_ready_at - endpoint_ready_at
        print(f"green: ready endpoint 200 → gate ready after {held:.1f} s (min {min_ready} s)")
        assert held < min_ready + 5  # and not much later either
    finally:
        console.close()

    green = web.status()["slots"]["green"]
    assert green["state"] == "ready" and green["ready"] is True
    # Nothing re-indexes: no height, head, lag or ETA, and no lag condition in the gate.
    assert (green["height"], green["head"], green["lag"], green["eta_seconds"]) == (None,) * 4
    names = [c["name"] for c in green["conditions"]]
    assert not any("lag" in name for name in names), names
    assert all(c["met"] for c in green["conditions"]), green["conditions"]
    assert web.served_by() == "blue"  # policy never: no switch yet

    result = web.cli("switch", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert web.served_by() == "green"
    assert "webapp v2" in httpx.get(f"{web.proxy_url}/").text
    assert web.status()["live"] == "green"

    result = web.cli("rollback", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert web.served_by() == "blue"
    assert "webapp v1" in httpx.get(f"{web.proxy_url}/").text
    assert web.status()["live"] == "blue"


def test_config_check_probe_on_a_service_without_catch_up(web: Sandbox) -> None:
    result = web.cli("config", "check", "--probe")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "no catch-up" in out and "nothing to read" in out
    assert "db_url" not in out and "Traceback" not in out
