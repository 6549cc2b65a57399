"""Issue 2's acceptance, end to end on a real sandbox: deploy → catch-up → switch → roll back,
a crashing candidate, the operator lock, and no password anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.lock import OperatorLock
from console.core.model import Actor, Color
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down
from tests.integration.webhook_sink import webhook_sink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

WEBHOOK_PORT = ports.WORKFLOW_WEBHOOK


@pytest.fixture(scope="module")
def webhook() -> Iterator[list[str]]:
    with webhook_sink(WEBHOOK_PORT) as received:
        yield received


@pytest.fixture(scope="module")
def sandbox(webhook: list[str]) -> Iterator[Sandbox]:
    world = bring_up()
    # Notifications go to a local sink so the test can read every message sent.
    config = world.config.read_text().replace(
        'webhook_url = ""', f'webhook_url = "http://127.0.0.1:{WEBHOOK_PORT}/hook"'
    )
    config = config.replace("min_interval_seconds", "#")  # keep default
    world.config.write_text(config)
    stop_agent(world)
    try:
        yield world
    finally:
        tear_down(world.dir)


OUTPUTS: list[str] = []


def run(world: Sandbox, *args: str) -> tuple[int, str]:
    result = world.cli(*args)
    OUTPUTS.append(result.stdout + result.stderr)
    return result.returncode, result.stdout + result.stderr


def test_blue_is_live_after_sandbox_up(sandbox: Sandbox) -> None:
    status = sandbox.status()
    assert status["live"] == "blue"
    assert status["slots"]["blue"]["state"] == "live"
    assert status["slots"]["green"]["state"] == "empty"
    for key in ("state", "image", "height", "head", "lag", "speed", "eta_seconds", "healthy"):
        assert key in status["slots"]["blue"]
    assert sandbox.served_by() == "blue"
    # A fresh install is not a fault: blue becoming the first live colour is no `drift` warning.
    code, out = run(sandbox, "history", "--json")
    assert code == 0, out
    kinds = [event["kind"] for event in json.loads(out)["events"]]
    assert "drift" not in kinds and "adoption" not in kinds, kinds
    # blue went live through its gate (v1 deploys with --switch auto): the agent switched it.
    assert "switch" in kinds, kinds
    # Only one colour has ever been live: no previous, and rollback says so.
    assert status["previous"] is None
    code, out = run(sandbox, "rollback", "--yes")
    assert code == 1 and "No colour was live before blue" in out, out


def test_config_check_probe_reads_the_explorer_sources(sandbox: Sandbox) -> None:
    code, out = run(sandbox, "config", "check", "--probe")
    assert code == 0, out
    assert "candidate height from sql, head from sql" in out
    readings = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert readings[0].startswith("· head   sql: "), out  # MAX(height) - 1 on the source
    assert readings[1].startswith("· blue   sql: height "), out  # from blue's own database
    assert readings[2].startswith("· green  "), out
    assert "✗" not in out


def test_deploy_waits_until_ready_then_switch_and_rollback(sandbox: Sandbox) -> None:
    code, out = run(sandbox, "deploy", "v2", "--switch", "never", "--wait", "--timeout", "240")
    assert code == 0, out
    status = sandbox.status()
    green = status["slots"]["green"]
    assert green["state"] == "ready", green
    assert green["lag"] is not None and green["lag"] <= 2
    assert all(c["met"] for c in green["conditions"])
    assert status["live"] == "blue" and sandbox.served_by() == "blue"  # policy never: no switch

    code, out = run(sandbox, "switch", "--yes")
    assert code == 0, out
    assert sandbox.served_by() == "green"
    assert sandbox.status()["live"] == "green"

    code, out = run(sandbox, "rollback", "--yes")
    assert code == 0, out
    assert sandbox.served_by() == "blue"
    assert sandbox.status()["live"] == "blue"

    code, out = run(sandbox, "history", "--json")
    assert code == 0
    history = json.loads(out)
    kinds = [(e["kind"], e["actor"]) for e in history["events"]]
    for kind in ("deploy", "ready", "switch", "rollback"):
        assert any(k == kind and actor for k, actor in kinds), kinds
    assert any(k == "switch" and actor not in ("", "agent") for k, actor in kinds)


def test_second_operator_is_refused_with_the_holder_named(sandbox: Sandbox) -> None:
    lock = OperatorLock(Path(sandbox.dir) / "state")
    with lock.acquire("switch", Actor("alice", "10.0.0.5", 4242)):
        code, out = run(sandbox, "switch", "--yes")
    assert code == 1
    assert "alice from 10.0.0.5" in out and "'switch'" in out
    assert sandbox.served_by() == "blue"  # nothing changed


def test_two_concurrent_switches_one_proceeds(sandbox: Sandbox) -> None:
    """Both start at once; whichever loses the lock exits 1 naming the holder. (If the first
    finished before the second began, both succeed one after the other — then the proxy and
    the store must still agree.)"""
    import subprocess
    import sys

    argv = [sys.executable, "-m", "console", "--config", str(sandbox.config), "switch", "--yes"]
    procs = [
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    results = [(p.wait(60), p.stdout.read() if p.stdout else "") for p in procs]
    OUTPUTS.extend(out for _, out in results)
    codes = sorted(code for code, _ in results)
    if codes == [0, 1]:
        refused = next(out for code, out in results if code == 1)
        assert "is running 'switch'" in refused
    else:
        assert codes == [0, 0], results
    assert sandbox.served_by() == sandbox.status()["live"]


def test_candidate_crashing_mid_sync_fails_and_nothing_switches(sandbox: Sandbox) -> None:
    live_before = sandbox.status()["live"]
    code, out = run(
        sandbox,
        "deploy",
        "v2",
        "--env",
        "CRASH_AT_HEIGHT=1500",
        "--env",
        "INDEX_SPEED=500",
        "--switch",
        "auto",
        "--wait",
        "--timeout",
        "120",
    )
    assert code == 1, out
    status = sandbox.status()
    idle = "green" if live_before == "blue" else "blue"
    assert status["slots"][idle]["state"] == "failed"
    assert "exit" in (status["slots"][idle]["reason"] or "") or "restart" in (
        status["slots"][idle]["reason"] or ""
    )
    assert status["live"] == live_before and sandbox.served_by() == live_before


def _secrets(world: Sandbox) -> dict[str, str]:
    pairs = (line.partition("=") for line in (world.dir / "secrets.env").read_text().splitlines())
    return {key: value for key, sep, value in pairs if sep}


def _lag(source_url: str, dest_url: str) -> int | None:
    """Head first, then the watermark: a lower bound of the colour's lag, read by the test."""
    import psycopg

    with psycopg.connect(source_url) as source, psycopg.connect(dest_url) as dest:
        head = source.execute("SELECT MAX(height) - 1 FROM blocks").fetchone()
        try:
            row = dest.execute(
                "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    if not head or not row or head[0] is None or row[0] is None:
        return None
    return int(head[0]) - int(row[0])


def test_redeploy_into_a_ready_slot_is_not_ready_before_its_own_conditions(
    sandbox: Sandbox,
) -> None:
    """The old container's readiness must never count for the new one (issue 14, point 5).

    The re-deploy uses --switch auto, so a premature ready would also switch users to a
    half-built index: the test watches the new deployment's published state, its `ready` event
    and the live colour against green's real lag, read by the test itself."""
    import time

    from console.core.config.load import load_config

    live = sandbox.status()["live"]
    idle: Color = "green" if live == "blue" else "blue"
    code, out = run(sandbox, "deploy", "v2", "--switch", "never", "--wait", "--timeout", "240")
    assert code == 0, out
    assert sandbox.status()["slots"][idle]["state"] == "ready"

    secrets = _secrets(sandbox)
    source_url, dest_url = secrets["SOURCE_HOST_DB_URL"], secrets[f"{idle.upper()}_HOST_DB_URL"]
    console = open_console(load_config(str(sandbox.config)), read_only=True)
    store = console.installation.store
    hold = console.config.readiness.hold_seconds
    max_lag = console.config.readiness.max_lag
    try:
        before_ids = {d.id for d in store.deployments(limit=100)}
        code, out = run(sandbox, "deploy", "v2", "--env", "INDEX_SPEED=800", "--switch", "auto")
        assert code == 0, out
        (new_id,) = {d.id for d in store.deployments(limit=100)} - before_ids
        assert store.deployment(new_id).color == idle  # type: ignore[union-attr]
        last_high, caught_up, switched = time.time(), False, False
        deadline = time.monotonic() + 180
        while not switched and time.monotonic() < deadline:
            before = time.time()
            lag = _lag(source_url, dest_url)
            status = store.slot_status(idle)
            ready_events = [
                e for e in store.events(limit=50) if e.kind == "ready" and e.deployment_id == new_id
            ]
            switched = store.live() == idle
            after = time.time()
            if not caught_up:
                if lag is None or lag > max_lag:
                    last_high = before
                else:
                    caught_up = True
            claimed = (
                (status is not None and status.ready and status.deployment_id == new_id)
                or bool(ready_events)
                or switched
            )
            if claimed:
                assert caught_up, f"ready/live while the test saw lag {lag}"
                assert after >= last_high + hold, (
                    f"ready {after - last_high:.2f} s after the index caught up (hold {hold} s)"
                )
            time.sleep(0.1)
        assert switched, "the re-deployed colour never went live"
        (ready,) = [
            e for e in store.events(limit=100) if e.kind == "ready" and e.deployment_id == new_id
        ]
        assert ready.at >= last_high + hold
    finally:
        console.close()
    code, out = run(sandbox, "rollback", "--yes")
    assert code == 0, out
    assert sandbox.served_by() == live


def test_no_password_anywhere(sandbox: Sandbox, webhook: list[str]) -> None:
    password = sandbox.password
    assert OUTPUTS, "the workflow tests ran first and captured their output"
    for text in OUTPUTS:
        assert password not in text
    state = Path(sandbox.dir) / "state"
    for path in state.iterdir():
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert webhook, "notifications were sent"
    for message in webhook:
        assert password not in message
    # The stand-in prints its database URL with the password (as the real service does);
    # what the console shows of its logs is redacted.
    from console.core.config.load import load_config

    console = open_console(load_config(str(sandbox.config)), read_only=True)
    try:
        # Every line each colour printed since it started, the startup lines included.
        lines = console.log_lines("blue", tail=1_000_000) + console.log_lines("green", 1_000_000)
    finally:
        console.close()
    assert any("***" in line for line in lines), "the leaking line was seen and masked"
    assert not any(password in line for line in lines)


def test_logs_command_prints_every_line_redacted(sandbox: Sandbox) -> None:
    code, output = run(sandbox, "logs", "blue", "--tail", "100000")
    assert code == 0
    lines = output.splitlines()
    assert any("***" in line for line in lines), "the stand-in's leaking URL line is masked"
    assert sandbox.password not in output
    code, output = run(sandbox, "logs", "blue", "-n", "3")
    assert code == 0 and len(output.splitlines()) == 3
