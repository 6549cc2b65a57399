"""Issue 11's parity acceptance on the explorer sandbox (real PostgreSQL, Docker, nginx): a v2
built with a data bug (WRONG_HASH_EVERY) is caught by parity — differ, with the height and both
values — and with `parity_required` the switch, which samples parity again at that moment, is
refused and says why; a correct v2 matches and its switch carries the outcome into history and
the notification; a stopped container or a database that refuses connections is an error, never a
match."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down
from tests.integration.webhook_sink import webhook_sink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PORT_BASE = ports.PARITY.start
WEBHOOK_PORT = ports.PARITY_WEBHOOK


@pytest.fixture(scope="module")
def webhook() -> Iterator[list[str]]:
    with webhook_sink(WEBHOOK_PORT) as received:
        yield received


@pytest.fixture(scope="module")
def sandbox(webhook: list[str]) -> Iterator[Sandbox]:
    world = bring_up(history=3000, speed=3000, port_base=PORT_BASE)
    try:
        config = world.config.read_text()
        assert "[[parity]]" in config and "parity_required = false" in config
        config = config.replace(
            'webhook_url = ""', f'webhook_url = "http://127.0.0.1:{WEBHOOK_PORT}/hook"'
        ).replace("parity_interval_seconds = 5", "parity_interval_seconds = 2")
        world.config.write_text(config)
        stop_agent(world)  # the agent re-reads the config when `deploy` starts it again
        yield world
    finally:
        stop_agent(world)
        tear_down(world.dir)


def required_config(world: Sandbox) -> Path:
    """The same installation with `parity_required = true`: the agent keeps the other one (its
    gate is met), so only the parity sampled at the switch can refuse."""
    path = world.dir / "required.toml"
    text = world.config.read_text().replace("parity_required = false", "parity_required = true")
    path.write_text(text)
    return path


def parity(world: Sandbox) -> tuple[int, dict[str, typing.Any]]:
    result = world.cli("parity", "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def check(report: dict[str, typing.Any], name: str) -> dict[str, typing.Any]:
    return next(c for c in report["checks"] if c["name"] == name)


def test_a_buggy_v2_is_caught_and_the_required_switch_refused(sandbox: Sandbox) -> None:
    result = sandbox.cli(
        "deploy", "v2", "--switch", "never", "--env", "WRONG_HASH_EVERY=10",
        "--wait", "--timeout", "240",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    code, report = parity(sandbox)
    assert code == 1
    height = report["height"]
    assert isinstance(height, int) and height > 0
    assert height == min(report["heights"]["blue"], report["heights"]["green"]) - 5
    window = check(report, "last 1000 hashes")
    assert window["result"] == "differ", report
    assert window["blue"] and window["green"] and window["blue"] != window["green"]
    assert window["blue"].startswith("1000:")  # count:md5 of the 1000 roots up to H

    status = sandbox.status()
    assert status["parity"] is not None, "the agent publishes parity with the status"
    assert status["slots"]["green"]["state"] == "ready"  # not required: the gate holds

    result = sandbox.cli("switch", "--yes", config=required_config(sandbox))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Switch refused: parity at height" in out, out
    # The first check that differs is named: the block hash itself when H lands on one of the
    # blocks v2 gets wrong, else the digest of the last 1000 hashes (which always holds one).
    assert "'block hash' differs" in out or "'last 1000 hashes' differs" in out, out
    assert window["blue"][:20] in out or "blue '" in out
    assert sandbox.status()["live"] == "blue" and sandbox.served_by() == "blue"
    history = json.loads(sandbox.cli("history", "--json").stdout)
    parity_events = [e for e in history["events"] if e["kind"] == "parity"]
    assert parity_events and "differs" in parity_events[0]["text"]


def test_with_parity_required_the_agents_gate_holds_the_buggy_v2_back(sandbox: Sandbox) -> None:
    stop_agent(sandbox)
    relaxed = sandbox.config.read_text()
    sandbox.config.write_text(relaxed.replace("parity_required = false", "parity_required = true"))
    agent = subprocess.Popen(
        [sys.executable, "-m", "console", "--config", str(sandbox.config), "agent"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        condition: dict[str, typing.Any] = {}
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            green = sandbox.status()["slots"]["green"]
            found = [c for c in green["conditions"] if c["name"] == "parity"]
            if found and "differs" in found[0]["detail"]:
                condition = found[0]
                break
            time.sleep(0.5)
        assert condition and not condition["met"], sandbox.status()["slots"]["green"]
        assert sandbox.status()["slots"]["green"]["state"] != "ready"
        result = sandbox.cli("switch", "--yes")
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert "green is not ready:" in out and "parity (at height" in out
        # The first check that differs is named: the block hash itself when H lands on a
        # wrong block, else the digest of the last 1000 hashes (which always holds one).
        assert "' differs (blue '" in out, out
        assert "'block hash' differs" in out or "'last 1000 hashes' differs" in out, out
        assert sandbox.served_by() == "blue"
    finally:
        agent.terminate()
        agent.wait(15)
        sandbox.config.write_text(relaxed)


def test_a_correct_v2_matches_and_its_switch_carries_parity(
    sandbox: Sandbox, webhook: list[str]
) -> None:
    # The same release without the bug, into green again (it re-indexes from scratch).
    result = sandbox.cli("deploy", "v2", "--switch", "never", "--wait", "--timeout", "240")
    assert result.returncode == 0, result.stdout + result.stderr
    code, report = parity(sandbox)
    assert code == 0, report
    assert {c["result"] for c in report["checks"]} == {"match"}
    assert check(report, "block hash")["blue"] == check(report, "block hash")["green"]

    text = sandbox.cli("status").stdout
    assert "Parity at height" in text

    result = sandbox.cli("switch", "--yes", config=required_config(sandbox))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "parity at height" in out.lower() and "2 of 2 match" in out
    assert sandbox.served_by() == "green"
    history = json.loads(sandbox.cli("history", "--json").stdout)
    switch = next(
        e for e in history["events"] if e["kind"] == "switch" and "blue → green" in e["text"]
    )
    assert "Parity: parity at height" in switch["text"] and "2 of 2 match" in switch["text"]
    assert any("2 of 2 match" in message for message in webhook)


def test_an_unreachable_colour_is_an_error_not_a_match(sandbox: Sandbox) -> None:
    # Blue (the previous colour now) stops: its database still answers, but it serves no one.
    container = f"explorer-{PORT_BASE}-blue"
    subprocess.run(["docker", "stop", "-t", "2", container], check=True, capture_output=True)
    try:
        code, report = parity(sandbox)
        assert code == 1
        assert {c["result"] for c in report["checks"]} == {"error"}
        assert report["height"] is None and "exited" in report["error"]
    finally:
        subprocess.run(["docker", "start", container], check=True, capture_output=True)

    # Blue's database refuses connections (down for this colour only).
    secrets = dict(
        line.split("=", 1) for line in (sandbox.dir / "secrets.env").read_text().splitlines()
    )
    admin = secrets["BLUE_HOST_DB_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("ALTER DATABASE explorer_blue ALLOW_CONNECTIONS false")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'explorer_blue'"
        )
    try:
        code, report = parity(sandbox)
        assert code == 1
        assert {c["result"] for c in report["checks"]} == {"error"}, report
        assert "blue" in report["error"]
        assert secrets["SANDBOX_PG_PASSWORD"] not in json.dumps(report)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("ALTER DATABASE explorer_blue ALLOW_CONNECTIONS true")
