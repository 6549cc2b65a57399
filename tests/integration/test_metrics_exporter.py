"""Issue 12 point 2 on real parts: the explorer sandbox (Docker, PostgreSQL, nginx) with its agent
exporting at the sandbox's metrics port. During a deploy the scrape shows lag falling and an ETA
set; every figure matches `status --json` of the same tick; a switch is counted with its cutover."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down
from tests.metrics_series import Series, parse_series, series_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

PORT_BASE = ports.METRICS_EXPORTER.start


@pytest.fixture(scope="module")
def explorer() -> Iterator[Sandbox]:
    world = bring_up(profile="explorer", port_base=PORT_BASE, history=30000, speed=1500)
    try:
        yield world
    finally:
        tear_down(world.dir)


def scrape(url: str) -> tuple[str, Series]:
    text = httpx.get(url, timeout=5).text
    return text, parse_series(text)


def value(series: Series, name: str, **labels: str) -> float | None:
    return series_value(series, name, service="explorer", **labels)  # the sandbox's one service


def same_tick(sandbox: Sandbox, url: str, color: str) -> tuple[dict, Series, str]:  # type: ignore[type-arg]
    """A scrape and a `status --json` composed from the same agent tick."""
    for _ in range(20):
        text, series = scrape(url)
        status = sandbox.status()
        stamp = value(series, "bluegreen_slot_status_timestamp_seconds", color=color)
        if stamp is not None and stamp == status["slots"][color]["updated_at"]:
            return status, series, text
        time.sleep(0.2)
    raise AssertionError("never caught a scrape and a status of the same tick")


def test_scrape_follows_a_deploy_and_matches_status(explorer: Sandbox) -> None:
    state = explorer.sandbox_status()
    url = state["metrics_url"]
    assert url == f"http://127.0.0.1:{PORT_BASE + 22}/metrics"
    _, series = scrape(url)  # sandbox up left its agent running
    assert value(series, "bluegreen_live_color", color="blue") == 1.0
    assert value(series, "bluegreen_slot_state", color="blue", state="live") == 1.0

    result = explorer.cli("deploy", "v2", "--switch", "never")
    assert result.returncode == 0, result.stdout + result.stderr
    lags: list[float] = []
    etas: list[float] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        _, series = scrape(url)
        lag = value(series, "bluegreen_slot_lag_blocks", color="green")
        eta = value(series, "bluegreen_slot_eta_seconds", color="green")
        if value(series, "bluegreen_slot_state", color="green", state="syncing") == 1.0:
            if lag is not None:
                lags.append(lag)
            if eta is not None:
                etas.append(eta)
        if value(series, "bluegreen_slot_state", color="green", state="ready") == 1.0:
            break
        assert value(series, "bluegreen_slot_state", color="green", state="failed") != 1.0
        time.sleep(0.5)
    print(
        f"green lag while syncing: {int(lags[0])} → {int(lags[-1])} over {len(lags)} scrapes; "
        f"ETA {round(etas[0])} s → {round(etas[-1])} s"
    )
    assert len(lags) >= 3 and lags[-1] < lags[0] / 2, lags
    assert etas and all(e >= 0 for e in etas)

    status, series, text = same_tick(explorer, url, "green")
    for color in ("blue", "green"):
        slot = status["slots"][color]
        assert value(series, "bluegreen_slot_state", color=color, state=slot["state"]) == 1.0
        for key, name in (
            ("height", "bluegreen_slot_height"),
            ("head", "bluegreen_slot_head"),
            ("lag", "bluegreen_slot_lag_blocks"),
            ("speed", "bluegreen_slot_speed_blocks_per_second"),
            ("eta_seconds", "bluegreen_slot_eta_seconds"),
            ("restart_count", "bluegreen_slot_container_restarts"),
        ):
            if color == "green" or key in ("restart_count",):
                assert value(series, name, color=color) == slot[key], (color, key)
        for cond in slot["conditions"]:
            got = value(series, "bluegreen_slot_condition_met", color=color, condition=cond["name"])
            if color == "green":
                assert got == (1.0 if cond["met"] else 0.0), cond
    assert value(series, "bluegreen_slot_ready", color="green") == 1.0
    assert (value(series, "bluegreen_agent_last_sample_age_seconds") or 99) < 5
    assert explorer.password not in text  # the sandbox's database password appears nowhere

    # sandbox up put v1 live through the agent's auto policy: one switch by the agent so far.
    assert value(series, "bluegreen_switches_total", actor_kind="agent") == 1.0
    assert value(series, "bluegreen_switches_total", actor_kind="operator") == 0.0
    cutovers = value(series, "bluegreen_cutover_seconds_count") or 0.0
    result = explorer.cli("switch", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    _, series = scrape(url)
    assert value(series, "bluegreen_switches_total", actor_kind="operator") == 1.0
    assert value(series, "bluegreen_cutover_seconds_count") == cutovers + 1
    deadline = time.monotonic() + 10
    while value(series, "bluegreen_live_color", color="green") != 1.0:
        assert time.monotonic() < deadline, "the exporter never showed green live"
        time.sleep(0.5)
        _, series = scrape(url)

    promtool = shutil.which("promtool")
    if promtool is not None:
        text = httpx.get(url, timeout=5).text
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    assert Path(state["config"]).exists()
