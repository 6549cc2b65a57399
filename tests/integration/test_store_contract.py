"""One contract for the store, run unchanged against both databases under it: SQLite in the
state directory and a real PostgreSQL server (issue 24). What only SQLite has (its file modes,
WAL, a damaged file) is in tests/unit/test_store.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from console.core.fsutil import StateDirError
from console.core.holds import Freeze, Maintenance
from console.core.hooks.outcome import HookRun
from console.core.model import Canary, Condition, Phase, Sample, SlotState, SlotStatus, SwitchPolicy
from console.core.store.store import SCHEMA_VERSION, Steering, Store
from tests.store_sites import REPO, StoreSite, postgres_server, sites

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def postgres() -> Iterator[object]:
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[StoreSite]:
    with sites(request.param, tmp_path, request) as opened:
        yield opened


@pytest.fixture
def store(site: StoreSite) -> Iterator[Store]:
    opened = site.open()
    yield opened
    opened.close()


def test_two_stores_see_each_others_writes(store: Store, site: StoreSite) -> None:
    other = site.open()
    try:
        store.set_live("blue", None)
        assert other.live() == "blue"
        other.set_live("green", "blue")
        assert (store.live(), store.previous()) == ("green", "blue")
        deployment = other.create_deployment(
            "green", "explorer:v2", "v2", SwitchPolicy.CONFIRM, "alice", {}, None
        )
        assert store.active_deployment("green") == deployment
        store.put_slot_status(SlotStatus(color="green", state=SlotState.SYNCING, height=5))
        seen = other.slot_status("green")
        assert seen is not None and seen.height == 5
    finally:
        other.close()


def test_reopening_keeps_data_and_does_not_migrate_twice(site: StoreSite) -> None:
    first = site.open()
    first.set_live("green", "blue")
    first.close()
    again = site.open()
    try:
        assert (again.live(), again.previous()) == ("green", "blue")
    finally:
        again.close()


def test_set_live_can_clear_and_remembers_when_live_changed(store: Store) -> None:
    assert (store.live(), store.previous()) == (None, None)
    assert store.switched_at() is None
    before = time.time()
    store.set_live("blue", "green")
    first = store.switched_at()
    assert first is not None and first >= before
    store.set_live("blue", None)  # same live colour: not a switch
    assert store.switched_at() == first
    time.sleep(0.01)
    store.set_live("green", None)
    assert (store.live(), store.previous()) == ("green", None)
    second = store.switched_at()
    assert second is not None and second > first


def test_watch_window(store: Store) -> None:
    assert store.watch() is None
    store.set_watch("green", 1234.5)
    assert store.watch() == ("green", 1234.5)
    store.set_watch("green", 0.0)
    assert store.watch() is None


def test_what_is_decided_reads_what_each_of_its_parts_reads(store: Store) -> None:
    assert store.decided()[0] == Steering(None, None, None, None)
    store.set_live("green", "blue")
    store.set_canary(Canary("blue", 10))
    store.set_watch("green", 1234.5)
    steering = store.decided()[0]
    assert steering == Steering("green", "blue", Canary("blue", 10), ("green", 1234.5))
    assert steering == (store.live(), store.previous(), store.canary(), store.watch())
    store.set_canary(None)
    store.set_watch("green", 0.0)
    assert store.decided()[0] == Steering("green", "blue", None, None)


def test_deployment_lifecycle(store: Store) -> None:
    before = time.time()
    created = store.create_deployment(
        "green",
        "explorer:v1.5.0",
        "v1.5.0",
        SwitchPolicy.AUTO,
        "alice@10.0.0.5",
        {"RUST_LOG": "info"},
        target_height=1_000,
    )
    assert created.phase is Phase.CREATED
    assert created.policy is SwitchPolicy.AUTO
    assert created.env == {"RUST_LOG": "info"}
    assert created.target_height == 1_000
    assert before <= created.created_at == created.phases["created"]

    store.set_phase(created.id, Phase.SYNCING)
    first_syncing = store.deployment(created.id)
    assert first_syncing is not None
    store.set_phase(created.id, Phase.READY)
    store.set_phase(created.id, Phase.SYNCING)  # back again: the first time is kept
    store.set_deployment_fields(created.id, start_height=10, cutover_ms=12.5)
    again = store.deployment(created.id)
    assert again is not None
    assert again.phase is Phase.SYNCING
    assert again.phases["syncing"] == first_syncing.phases["syncing"]
    assert set(again.phases) == {"created", "syncing", "ready"}
    assert (again.start_height, again.target_height, again.cutover_ms) == (10, 1_000, 12.5)

    store.set_phase(created.id, Phase.FAILED, "container exited (code 1)")
    failed = store.deployment(created.id)
    assert failed is not None and failed.outcome == "container exited (code 1)"
    store.set_phase(created.id, Phase.RETIRED)  # no outcome given: the old one stays
    retired = store.deployment(created.id)
    assert retired is not None and retired.outcome == "container exited (code 1)"

    assert store.active_deployment("green") is None
    assert store.latest_deployment("green") == retired
    assert store.deployment(999) is None
    with pytest.raises(ValueError, match="phase"):
        store.set_deployment_fields(created.id, phase=1)
    with pytest.raises(KeyError):
        store.set_phase(999, Phase.LIVE)


def test_active_latest_listing_and_recent_images(store: Store) -> None:
    def deploy(color: str, image: str) -> int:
        return store.create_deployment(
            color,  # type: ignore[arg-type]
            image,
            image.rsplit(":", 1)[-1],
            SwitchPolicy.CONFIRM,
            "alice",
            {},
            None,
        ).id

    live_blue = deploy("blue", "explorer:v1")
    store.set_phase(live_blue, Phase.LIVE)
    green_old = deploy("green", "explorer:v2")
    green_new = deploy("green", "explorer:v3")
    store.set_phase(green_new, Phase.CANCELLED)
    deploy("green", "explorer:v2")
    newest = deploy("blue", "explorer:v4")
    store.set_phase(newest, Phase.ROLLED_BACK)

    active_green = store.active_deployment("green")
    assert active_green is not None and active_green.id == green_new + 1
    active_blue = store.active_deployment("blue")
    assert active_blue is not None and active_blue.id == live_blue  # newest is terminal
    assert store.active_deployments() == {"green": active_green, "blue": active_blue}
    assert store.decided()[1] == {
        "green": (active_green.id, active_green.phase, active_green.policy),
        "blue": (live_blue, Phase.LIVE, active_blue.policy),
    }
    store.set_phase(live_blue, Phase.RETIRED)
    assert store.active_deployments() == {"green": active_green}
    assert set(store.decided()[1]) == {"green"}
    store.set_phase(live_blue, Phase.LIVE)
    latest_blue = store.latest_deployment("blue")
    assert latest_blue is not None and latest_blue.id == newest
    assert [d.id for d in store.deployments()] == [newest, green_new + 1, green_new, green_old, 1]
    assert len(store.deployments(limit=2)) == 2
    assert store.recent_images() == ["explorer:v4", "explorer:v2", "explorer:v3", "explorer:v1"]
    assert store.recent_images(limit=1) == ["explorer:v4"]
    assert store.latest_deployment("blue") != store.latest_deployment("green")


def test_events_tail_and_after_id(store: Store) -> None:
    records = [
        store.record_event("milestone", f"green at {n}", actor="agent", color="green")
        for n in range(5)
    ]
    failure = store.record_event("failure", "gate failed", "error", "bob", "blue", 7)
    assert failure.level == "error" and failure.deployment_id == 7
    assert [e.id for e in store.events()] == [r.id for r in [*records, failure]]
    assert [e.text for e in store.events(limit=2)] == ["green at 4", "gate failed"]
    after = store.events(after_id=records[2].id)
    assert [e.id for e in after] == [records[3].id, records[4].id, failure.id]
    assert store.events(after_id=records[2].id, limit=1)[0].id == records[3].id
    assert store.events(after_id=failure.id) == []
    assert store.events()[-1] == failure


def test_samples_batch_since_and_prune(store: Store) -> None:
    store.add_samples(
        "green", [Sample(at=100.0 + i, head=1000 + i, height=10 * i) for i in range(10)]
    )
    store.add_samples("blue", [Sample(at=105.0, head=None, height=None)])
    store.add_samples("blue", [])
    got = store.samples("green", since=105.0)
    assert [s.at for s in got] == [105.0, 106.0, 107.0, 108.0, 109.0]
    assert got[0] == Sample(at=105.0, head=1005, height=50)
    assert store.samples("blue", since=0) == [Sample(at=105.0, head=None, height=None)]
    store.prune_samples(older_than=108.0)
    assert [s.at for s in store.samples("green", since=0)] == [108.0, 109.0]
    assert store.samples("blue", since=0) == []


def test_slot_status_round_trip(store: Store) -> None:
    status = SlotStatus(
        color="green",
        state=SlotState.READY,
        image="explorer:v2",
        version="v2",
        deployment_id=3,
        container_state="running",
        healthy=True,
        height=990,
        head=1000,
        lag=10,
        progress=0.99,
        eta_seconds=None,
        conditions=(Condition("lag ≤ 2 for 5 s", False, "lag 10"), Condition("health", True)),
        ready=False,
        updated_at=1234.0,
    )
    store.put_slot_status(status)
    assert store.slot_status("green") == status
    assert store.slot_status("blue") is None
    before = time.time()
    store.put_slot_status(SlotStatus(color="blue"))
    blue = store.slot_status("blue")
    assert blue is not None and blue.updated_at >= before  # 0 means "now"
    assert set(store.slot_statuses()) == {"blue", "green"}
    store.put_slot_status(SlotStatus(color="green", state=SlotState.LIVE, updated_at=1300.0))
    replaced = store.slot_statuses()["green"]
    assert replaced.state is SlotState.LIVE and replaced.conditions == ()


def test_metrics_and_heartbeats(store: Store) -> None:
    store.add_metric("switch_cutover_ms", 12.5, 100.0, {"to": "green"})
    store.add_metric("switch_cutover_ms", 9.0, 200.0)
    store.add_metric("other", 1.0, 150.0)
    points = store.metrics("switch_cutover_ms", since=0)
    assert [(p.value, p.at, p.labels) for p in points] == [
        (12.5, 100.0, {"to": "green"}),
        (9.0, 200.0, {}),
    ]
    assert [p.value for p in store.metrics("switch_cutover_ms", since=150.0)] == [9.0]
    store.prune_metrics(older_than=150.0)
    assert [p.value for p in store.metrics("switch_cutover_ms", since=0)] == [9.0]
    assert [p.value for p in store.metrics("other", since=0)] == [1.0]  # at 150: not older
    assert store.metrics("missing", since=0) == []
    assert store.heartbeats() == {}
    store.heartbeat("agent")
    first = store.heartbeats()["agent"]
    store.heartbeat("agent")
    store.heartbeat("sampler")
    beats = store.heartbeats()
    assert set(beats) == {"agent", "sampler"} and beats["agent"] >= first


def test_redact_hook_applies_to_text_outcome_env_and_reason(site: StoreSite) -> None:
    def redact(text: str) -> str:
        return text.replace("hunter2", "***")

    store = site.open(redact=redact)
    try:
        event = store.record_event("failure", "postgres://u:hunter2@db/x refused")
        created = store.create_deployment(
            "blue", "img:1", "1", SwitchPolicy.NEVER, "a", {"DEST_DB_URL": "u:hunter2@h"}, None
        )
        store.set_phase(created.id, Phase.FAILED, "auth failed for hunter2")
        store.put_slot_status(SlotStatus(color="blue", reason="hunter2 rejected"))
    finally:
        store.close()
    assert event.text == "postgres://u:***@db/x refused"
    raw = site.raw_bytes()
    assert b"hunter2" not in raw
    assert b"u:***@h" in raw


def test_threads_and_processes_write_concurrently(store: Store, site: StoreSite) -> None:
    # The other process opens its store, then waits for "go" so its writes overlap the threads'.
    writer = (
        "import sys\n"
        "from console.core.model import Sample\n"
        f"{site.opener()}\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "for i in range(150):\n"
        "    s.record_event('load', f'proc {i}')\n"
        "    s.add_samples('blue', [Sample(i, i, i)])\n"
        "s.close()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", writer],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    errors: list[BaseException] = []

    def write_events(n: int) -> None:
        try:
            for i in range(100):
                store.record_event("load", f"thread {n} {i}")
                store.events(limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write_events, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    proc.stdin.write("go\n")
    proc.stdin.close()
    for thread in threads:
        thread.join()
    assert proc.wait(timeout=60) == 0
    proc.stdout.close()
    assert errors == []
    events = store.events(limit=10_000)
    assert len(events) == 4 * 100 + 150
    assert len({e.id for e in events}) == len(events)
    assert len(store.samples("blue", since=0)) == 150


def test_newer_schema_refused(site: StoreSite) -> None:
    site.open().close()
    site.set_version(SCHEMA_VERSION + 1)
    with pytest.raises(StateDirError, match="newer bluegreen"):
        site.open()


def test_closed_store_refuses_use(site: StoreSite) -> None:
    store = site.open()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.live()


def test_a_switch_records_live_and_the_slots_states_together(store: Store) -> None:
    """issue 21: `status` read `live = green` beside green "ready" and blue "live" for a tick."""
    store.put_slot_status(SlotStatus("blue", SlotState.LIVE, height=10, ready=True))
    store.put_slot_status(SlotStatus("green", SlotState.READY, height=10, ready=True))
    store.put_slot_status(SlotStatus("blue", SlotState.LIVE, height=10, ready=True))
    store.set_live("green", "blue")
    live, previous, slots = store.snapshot()
    assert (live, previous) == ("green", "blue")
    assert (slots["green"].state, slots["blue"].state) == (SlotState.LIVE, SlotState.READY)
    assert store.slot_status("green").state == SlotState.LIVE  # type: ignore[union-attr]

    # The agent's tick composed under the old live colour lands after the switch: readers still
    # compose the slots with the live colour of the same read.
    store.put_slot_status(SlotStatus("green", SlotState.READY, height=11, ready=True))
    store.put_slot_status(SlotStatus("blue", SlotState.LIVE, height=11, ready=True))
    live, _, slots = store.snapshot()
    assert live == "green" and slots["green"].state == SlotState.LIVE
    assert slots["blue"].state == SlotState.READY


def test_holds_are_kept_replaced_and_lifted(store: Store) -> None:
    assert store.freeze() is None and store.maintenance() is None
    frozen = Freeze("no releases until Monday", "alice", 1000.0, until=2000.0)
    store.set_freeze(frozen)
    assert store.stored_freeze() == frozen
    assert store.freeze(now=1500.0) == frozen and store.freeze(now=2500.0) is None
    assert store.clear_expired_freeze(2500.0) == frozen and store.stored_freeze() is None
    store.set_maintenance(Maintenance("back at 10:00", "bob", 1200.0, retry_after=60))
    assert store.maintenance() == Maintenance("back at 10:00", "bob", 1200.0, retry_after=60)
    store.set_maintenance(None)
    assert store.maintenance() is None


def test_hook_runs_are_recorded_with_their_outcome(store: Store) -> None:
    started = store.start_hook_run(
        HookRun("pre-switch", "migrate", "container", "green", 3, "alice", 100.0,
                timeout_seconds=60.0)
    )  # fmt: skip
    assert started.id > 0 and store.hook_started(3, "pre-switch")
    assert not store.hook_started(3, "post-switch")
    done = replace(started, seconds=2.5, exit_code=0, last_lines=("migrated 12 tables",))
    store.finish_hook_run(done)
    (run,) = store.hook_runs(deployment_id=3)
    assert (run.id, run.exit_code, run.seconds, run.last_lines) == (
        started.id, 0, 2.5, ("migrated 12 tables",)
    )  # fmt: skip
    assert store.hook_runs(deployment_id=4) == []
