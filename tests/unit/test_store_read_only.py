"""A watcher's store (`Store.open_read_only`) on real SQLite files: it reads what writers commit,
with or without a writer open, creates and changes nothing, and refuses writes in one sentence.
(The same as a real unprivileged user, on real permissions: tests/security/test_watchers.py.)"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.access import AccessDenied
from console.core.fsutil import StateDirError
from console.core.model import SlotState, SlotStatus
from console.core.store.db import Database
from console.core.store.store import DB_FILE, SCHEMA_VERSION, Store


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file's (size, mtime): what a watcher must never change."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "state"
    writer = Store.open(directory)
    writer.set_live("blue", None)
    writer.record_event("deploy", "deployed v1", "success", "alice", "blue")
    writer.put_slot_status(SlotStatus("blue", SlotState.LIVE, version="v1"))
    writer.close()
    yield directory


def test_reads_with_no_writer_open_and_creates_nothing(state: Path) -> None:
    assert not (state / f"{DB_FILE}-wal").exists()  # SQLite removed it at the last close
    before = _snapshot(state)
    watcher = Store.open_read_only(state)
    try:
        assert watcher.live() == "blue"
        assert [e.text for e in watcher.events()] == ["deployed v1"]
        assert watcher.slot_statuses()["blue"].version == "v1"
    finally:
        watcher.close()
    assert _snapshot(state) == before


def test_reads_each_commit_of_a_live_writer(state: Path) -> None:
    writer = Store.open(state)
    watcher = Store.open_read_only(state)
    try:
        writer.record_event("switch", "blue → green", "success", "alice", "green")
        assert (state / f"{DB_FILE}-wal").exists()
        assert watcher.events()[-1].text == "blue → green"
        writer.set_live("green", "blue")
        assert (watcher.live(), watcher.previous()) == ("green", "blue")
    finally:
        watcher.close()
        writer.close()
    # and again once the writer has gone (the immutable path), with the latest commits
    watcher = Store.open_read_only(state)
    try:
        assert watcher.live() == "green" and watcher.events()[-1].text == "blue → green"
    finally:
        watcher.close()


def test_a_write_is_one_sentence_and_changes_nothing(state: Path) -> None:
    before = _snapshot(state)
    watcher = Store.open_read_only(state)
    try:
        for write in (
            lambda: watcher.set_live("green", "blue"),
            lambda: watcher.record_event("switch", "x"),
            lambda: watcher.heartbeat("agent"),
        ):
            with pytest.raises(AccessDenied, match="may only watch this installation") as refused:
                write()
            assert "\n" not in str(refused.value)
    finally:
        watcher.close()
    assert _snapshot(state) == before


def test_a_writer_checkpointing_during_a_quiescent_read_is_refused_not_trusted(
    state: Path,
) -> None:
    database = Database(state / DB_FILE, read_only=True)
    try:
        refused = pytest.raises(StateDirError, match="changed while it was being read")
        with refused, database.read() as conn:
            conn.execute("SELECT value FROM state WHERE key = 'live'").fetchone()
            writer = Store.open(state)  # arrives, commits, checkpoints and leaves
            writer.set_live("green", "blue")
            writer.close()
    finally:
        database.close()


def test_no_store_yet_and_other_schemas_are_sentences(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StateDirError, match=r"no state database .* yet"):
        Store.open_read_only(empty)
    assert list(empty.iterdir()) == []
    schemas = ((SCHEMA_VERSION + 1, "Upgrade bluegreen"), (SCHEMA_VERSION - 1, "upgrades it"))
    for version, says in schemas:
        directory = tmp_path / f"v{version}"
        Store.open(directory).close()
        conn = sqlite3.connect(directory / DB_FILE)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()
        with pytest.raises(StateDirError, match=says):
            Store.open_read_only(directory)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_store_is_one_sentence(state: Path) -> None:
    os.chmod(state / DB_FILE, 0)
    with pytest.raises(StateDirError, match="may not read this installation's state"):
        Store.open_read_only(state)
