"""Freeze and maintenance: the values (core/holds), the store's rows (store/holds, migration 2),
and the CLI through a real `bluegreen` process against a real (empty) store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.core.holds import (
    MAX_PAGE_BYTES,
    Freeze,
    HoldError,
    Maintenance,
    freeze_refusal,
    parse_until,
    read_page,
)
from console.core.store.schema import MIGRATIONS
from console.core.store.store import Store
from tests.unit.test_cli_options import CONFIG

NOW = 1_800_000_000.0


def test_until_takes_a_duration_or_an_iso_time_and_refuses_the_past_and_nonsense() -> None:
    assert parse_until("2h", NOW) == NOW + 7200
    assert parse_until("1d12h", NOW) == NOW + 36 * 3600
    assert parse_until("2030-01-01T00:00Z", NOW) > NOW
    with pytest.raises(HoldError, match=r"already past .* leave --until out"):
        parse_until("2020-01-01T09:00Z", NOW)
    with pytest.raises(HoldError, match="neither a date and time nor a duration"):
        parse_until("next monday", NOW)


def test_a_freeze_refuses_deploy_switch_and_canary_never_a_way_back() -> None:
    held = Freeze("no releases until Monday", "alice", NOW - 60, NOW + 3600)
    for action in ("deploy repo:v2", "switch", "canary", "canary promote"):
        refusal = freeze_refusal(held, action, NOW)
        assert refusal and "no releases until Monday" in refusal and "alice" in refusal
    way_back = ("rollback", "rollback to repo:v1")  # a named rollback's deploy and switch
    for action in (*way_back, "canary abort", "maintenance on", "unfreeze", "proxy install"):
        assert freeze_refusal(held, action, NOW) is None
    assert freeze_refusal(held, "switch", NOW + 3600) is None  # expired: lifted by itself


def test_the_store_keeps_both_and_an_expired_freeze_is_none(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.set_freeze(Freeze("hold", "alice", NOW, NOW + 10))
    store.set_maintenance(Maintenance("back soon", "bob", NOW, 30))
    assert store.freeze(NOW + 5) == Freeze("hold", "alice", NOW, NOW + 10)
    assert store.freeze(NOW + 11) is None
    assert store.clear_expired_freeze(NOW + 5) is None  # not yet: never removes a live one
    assert store.clear_expired_freeze(NOW + 11) is not None
    assert store.stored_freeze() is None
    assert store.maintenance() == Maintenance("back soon", "bob", NOW, 30)
    store.set_maintenance(None)
    assert store.maintenance() is None
    store.close()


def test_a_database_of_schema_1_is_migrated(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "bluegreen.db")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store.open(tmp_path)
    assert store.freeze() is None
    store.set_freeze(Freeze("m", "a", NOW, None))
    assert store.freeze() is not None
    store.close()


def test_a_page_is_checked_before_anything_changes(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    with pytest.raises(HoldError, match="no such file"):
        read_page(str(page))
    page.write_bytes(b"x" * (MAX_PAGE_BYTES + 1))
    with pytest.raises(HoldError, match="at most"):
        read_page(str(page))
    page.write_bytes(b"\xff\xfe")
    with pytest.raises(HoldError, match="not UTF-8"):
        read_page(str(page))
    page.write_text("<p>ok</p>", encoding="utf-8")
    assert read_page(str(page)) == "<p>ok</p>"


def _bluegreen(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "console", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_cli_freezes_refuses_a_deploy_shows_it_and_unfreezes(tmp_path: Path) -> None:
    config = tmp_path / "bluegreen.toml"
    config.write_text(
        CONFIG.format(state=tmp_path / "state", include=tmp_path / "nginx"), encoding="utf-8"
    )
    past = _bluegreen(config, "freeze", "-m", "x", "--until", "2020-01-01T00:00Z")
    assert past.returncode == 2 and "already past" in past.stderr and "Traceback" not in past.stderr
    watching = _bluegreen(config, "--read-only", "freeze", "-m", "x")
    assert watching.returncode == 1 and "read-only" in watching.stderr

    frozen = _bluegreen(config, "freeze", "-m", "release train stopped", "--until", "2h")
    assert frozen.returncode == 0, frozen.stderr
    shown = json.loads(_bluegreen(config, "status", "--json").stdout)
    assert shown["freeze"]["message"] == "release train stopped"
    assert shown["freeze"]["until"] > time.time() + 7000
    assert "FROZEN" in _bluegreen(config, "status").stdout

    deploy = _bluegreen(config, "deploy", "example/app:v2")
    assert deploy.returncode == 1
    assert "release train stopped" in deploy.stderr and "Rollback stays open" in deploy.stderr
    switch = _bluegreen(config, "switch", "--yes")
    assert switch.returncode == 1 and "releases are frozen" in switch.stderr

    assert _bluegreen(config, "unfreeze").returncode == 0
    shown = json.loads(_bluegreen(config, "status", "--json").stdout)
    assert shown["freeze"] is None
    history = json.loads(_bluegreen(config, "history", "--json").stdout)
    kinds = [event["kind"] for event in history["events"]]
    assert "freeze" in kinds and "unfreeze" in kinds
