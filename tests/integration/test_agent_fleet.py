"""One agent process for the fleet sandbox's three real services (explorer, web, evm behind one
nginx; tests/integration/agent_fleet_world.py).

Proved here, on Docker, nginx, PostgreSQL, the JSON-RPC chain and the real
`bluegreen --config DIR agent`: every service's readiness is tracked by the one process (one pid
in every lease, one exporter with a `service` label); a service file dropped in while it runs is
watched and said in that service's events, and one removed is let go; a broken file is skipped
and named with its key while the others keep ticking; the explorer's database stalled with
SIGSTOP while web deploys and the agent switches it: web's ticks and switch stay on time (the
figures are printed) and the explorer shows its height as stale, never as fresh. SIGTERM of the
fleet: tests/integration/test_agent_sigterm.py.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stalls import postgres_pids, stalled
from console.core import timeouts
from console.core.fsutil import StateDirError
from console.core.lock import AgentLease
from console.core.store.store import Store
from tests import ports
from tests.integration.agent_fleet_world import FleetWorld, bring_up_fleet, datagrams
from tests.integration.sandbox_fixture import tear_down
from tests.metrics_series import series_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

# A service of its own: nothing deployed, its own include dir and proxy commands that touch
# nothing (the shared nginx is the other services').
ADDED = """
[image]
repository = "bluegreen/webapp"
[candidate]
kind = "none"
[slots.blue]
container = "fleet-added-blue"
host_port = {blue}
[slots.green]
container = "fleet-added-green"
host_port = {green}
[proxy]
mode = "reload"
include_dir = "{include}"
test_command = ["true"]
reload_command = ["true"]
"""


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetWorld]:
    world = bring_up_fleet(ports.AGENT_FLEET.start)
    try:
        yield world
    finally:
        code, took = world.stop_agent()
        print(f"the fleet agent stopped: exit {code} in {took:.2f} s\n{world.why()}")
        tear_down(world.sandbox.dir)


@pytest.fixture(scope="module")
def notify_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[socket.socket, Path]]:
    path = tmp_path_factory.mktemp("notify") / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        yield server, path


def _store_events(state: Path) -> list[str]:
    if not (state / "bluegreen.db").exists():  # its lease comes first, then its store
        return []
    try:
        store = Store.open_read_only(state)
    except StateDirError:  # the file exists, its schema is still being written: not yet
        return []
    try:
        return [event.text for event in store.events(limit=200)]
    finally:
        store.close()


def test_one_agent_tracks_every_services_readiness(
    fleet: FleetWorld, notify_socket: tuple[socket.socket, Path]
) -> None:
    server, path = notify_socket
    agent = fleet.start_agent(path)
    assert datagrams(server, "READY=1", 90) == ["READY=1"], fleet.why()
    assert sorted(fleet.names) == ["evm", "explorer", "web"]
    for name in fleet.names:
        assert fleet.status(name)["agent"]["pid"] == agent.pid, name  # one process, every lease
    assert AgentLease(fleet.state).info().pid == agent.pid  # and the host's
    # Two services deploy at once (their own operator locks); the one agent follows both.
    deploying = ("web", "explorer")
    results: dict[str, object] = {}
    deploys = [
        threading.Thread(
            target=lambda n=name: results.__setitem__(  # type: ignore[misc]
                n,
                fleet.cli(
                    n, "deploy", "v2", "--switch", "never", "--wait", "--timeout", "180",
                    timeout=240,
                ),
            )
        )
        for name in deploying
    ]  # fmt: skip
    for thread in deploys:
        thread.start()
    for thread in deploys:
        thread.join(260)
    for name in deploying:
        result = results[name]
        assert getattr(result, "returncode", None) == 0, (name, result, fleet.why())
        green = fleet.status(name)["slots"]["green"]
        assert green["state"] == "ready" and green["version"] == "v2", (name, green)
    series = fleet.scrape()
    for name in deploying:
        ready = series_value(series, "bluegreen_slot_ready", service=name, color="green")
        assert ready == 1.0, name
    assert series_value(series, "bluegreen_slot_ready", service="evm", color="blue") == 1.0
    for name in fleet.names:
        assert fleet.status(name)["agent"]["pid"] == agent.pid  # no deploy started another
    assert "Traceback" not in fleet.log_text()


def test_a_service_file_dropped_in_is_watched_and_one_removed_is_let_go(
    fleet: FleetWorld,
) -> None:
    assert fleet.agent is not None and fleet.agent.poll() is None
    blue, green = ports.AGENT_FLEET_ADDED
    include = fleet.sandbox.dir / "added-nginx"
    (fleet.dir / "added.toml").write_text(ADDED.format(blue=blue, green=green, include=include))
    state = fleet.state / "added"
    fleet.wait_for("added watched", lambda: AgentLease(state).info().pid == fleet.agent.pid, 30)  # type: ignore[union-attr]
    fleet.wait_for(
        "the added event",
        lambda: "Agent started watching added (added)." in _store_events(state),
        10,
    )
    assert "Agent started watching added (added)." in fleet.log_text()
    (fleet.dir / "added.toml").unlink()
    fleet.wait_for("added let go", lambda: not AgentLease(state).info().running, 30)
    texts = _store_events(state)
    assert "Agent stopped watching added (file removed)." in texts and "Agent stopped." in texts
    for name in fleet.names:  # the others never stopped
        assert fleet.status(name)["agent"]["pid"] == fleet.agent.pid  # type: ignore[union-attr]


def test_a_broken_file_is_skipped_and_named_while_the_others_run(fleet: FleetWorld) -> None:
    broken = fleet.dir / "broken.toml"
    broken.write_text('[slots.blue]\ncontainer = "broken-blue"\nhost_prot = 1\n')
    try:
        fleet.wait_for("broken named", lambda: "Service broken" in fleet.log_text(), 30)
        line = next(x for x in fleet.log_text().splitlines() if "Service broken" in x)
        print(line)
        assert "host_prot" in line and str(broken) in line  # the key, and where
        assert not (fleet.state / "broken").exists()
        before = {n: fleet.status(n)["agent"]["heartbeat"] for n in fleet.names}
        time.sleep(3.5)  # an idle service beats at its full ticks, every 3 s
        for name in fleet.names:
            assert fleet.status(name)["agent"]["heartbeat"] > before[name], name  # still ticking
    finally:
        broken.unlink()


def test_a_stalled_database_of_one_service_never_delays_the_other(fleet: FleetWorld) -> None:
    """The issue's reliability case: explorer's PostgreSQL SIGSTOPped while web deploys and the
    agent switches it by policy. web's ticks (the exporter's tick duration, its statuses'
    spacing) and its switch stay on time; explorer shows its height stale and its reason."""
    assert fleet.agent is not None and fleet.agent.poll() is None
    samples: list[tuple[float, float | None, float | None, float | None]] = []
    stop = threading.Event()

    def sample() -> None:  # web's and explorer's published tick durations, and web's stamp
        while not stop.wait(0.25):
            try:
                series = fleet.scrape()
            except Exception:
                continue
            samples.append(
                (
                    time.time(),
                    series_value(series, "bluegreen_agent_tick_duration_seconds", service="web"),
                    series_value(
                        series, "bluegreen_agent_tick_duration_seconds", service="explorer"
                    ),
                    series_value(
                        series,
                        "bluegreen_slot_status_timestamp_seconds",
                        service="web",
                        color="blue",
                    ),
                )
            )

    sampler = threading.Thread(target=sample, daemon=True)
    live_before = fleet.status("web")["live"]
    idle = "green" if live_before == "blue" else "blue"
    sampler.start()
    try:
        with stalled(postgres_pids(fleet.sandbox.dir / "explorer"), longest=90):
            stalled_at = time.time()
            time.sleep(timeouts.sql_socket_seconds(2000) + 2.0)  # past the database's bound
            deploying_at = time.time()
            result = fleet.cli(
                "web", "deploy", "v1", "--switch", "auto", "--wait", "--timeout", "120", timeout=180
            )
            deployed_at = time.time()
            explorer = fleet.status("explorer")
            web_status = fleet.status("web")
    finally:
        stop.set()
        sampler.join(5)
    assert result.returncode == 0, result.stdout + result.stderr + fleet.why()
    assert web_status["live"] == idle  # the agent switched it, during the stall
    events = [e for e in fleet.events("web", 60) if e["at"] >= stalled_at]
    ready_at = min(
        e["at"]
        for e in events
        if e["kind"] == "state" and e["text"].startswith(f"{idle}: ") and "→ ready" in e["text"]
    )
    switched_at = min(e["at"] for e in events if e["kind"] == "switch" and e["level"] == "success")
    ticks = [s[1] for s in samples if s[0] >= stalled_at and s[1] is not None]
    stamps = sorted({s[3] for s in samples if s[0] >= stalled_at and s[3] is not None})
    # Idle until the deploy (agent/idle_pace.py: a full tick, so a status, every 3 intervals);
    # from the deploy's first tick to the switch, a status every interval.
    idle_stamps = [s for s in stamps if s <= deploying_at]
    busy_stamps = [s for s in stamps if deploying_at + 1.5 < s <= switched_at + 0.5]
    idle_gaps = [b - a for a, b in itertools.pairwise(idle_stamps)]
    busy_gaps = [b - a for a, b in itertools.pairwise(busy_stamps)]
    explorer_ticks = [s[2] for s in samples if s[0] >= stalled_at and s[2] is not None]
    print(
        f"explorer's database stalled {deployed_at - stalled_at:.1f} s; web deployed and "
        f"switched meanwhile. web ticks: n={len(ticks)} max {max(ticks):.3f} s, mean "
        f"{sum(ticks) / len(ticks):.3f} s; its statuses published every {max(busy_gaps):.2f} s "
        f"at most while deploying, {max(idle_gaps, default=0.0):.2f} s idle (interval 1.0 s); "
        f"ready → switched by the agent in {switched_at - ready_at:.2f} s. "
        f"explorer ticks meanwhile: max {max(explorer_ticks):.3f} s."
    )
    assert max(ticks) < 1.0  # the tick's budget is 0.5 s: the stall cost web nothing
    assert max(busy_gaps) < 2.5  # a status every interval (1 s), within a tick's jitter
    assert max(idle_gaps, default=0.0) < 4.5  # every 3 intervals while web was idle
    assert switched_at - ready_at < 5.0  # the policy's switch on the next ticks
    # explorer never lies: its height reading is stale and says so; its containers still answer.
    blue = explorer["slots"]["blue"]
    readings = {r["part"]: r for r in blue["readings"]}
    assert readings["height"]["stale"] is True, blue
    assert readings["docker"]["stale"] is False
    assert blue["state"] == "live"  # a database that hangs is not a stalled indexer
    assert time.time() - explorer["agent"]["heartbeat"] < 5.0  # its own tick went on too
    fleet.wait_for(
        "explorer's heights fresh again",
        lambda: (
            not {r["part"]: r for r in fleet.status("explorer")["slots"]["blue"]["readings"]}[
                "height"
            ]["stale"]
        ),
        30,
    )
