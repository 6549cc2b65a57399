"""The state store against real SQLite files: WAL, permissions, concurrency, the API."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.fsutil import StateDirError
from console.core.model import SlotState, SlotStatus
from console.core.store.store import DB_FILE, SCHEMA_VERSION, Store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    opened = Store.open(state_dir)
    yield opened
    opened.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_open_creates_private_wal_database(store: Store, state_dir: Path) -> None:
    store.record_event("agent", "started")  # make SQLite create its -wal and -shm files
    assert _mode(state_dir) == 0o700
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm"):
        assert _mode(state_dir / name) == 0o600, name
    raw = sqlite3.connect(state_dir / DB_FILE)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()


def test_corrupt_database_is_a_sentence(state_dir: Path) -> None:
    state_dir.mkdir(mode=0o700)
    (state_dir / DB_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateDirError) as caught:
        Store.open(state_dir)
    message = str(caught.value)
    assert str(state_dir / DB_FILE) in message
    assert "move it aside" in message


def test_unusable_state_dir_is_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateDirError, match="point state_dir elsewhere"):
        Store.open(blocker / "state")
    with pytest.raises(StateDirError, match="not a directory"):
        Store.open(blocker)


def test_states_that_do_not_depend_on_the_live_colour_are_kept() -> None:
    from console.core.model import agreeing_with_live

    failed = SlotStatus("green", SlotState.FAILED, reason="exited")
    assert agreeing_with_live(failed, "green") is failed
    catching_up = SlotStatus("blue", SlotState.LIVE, height=5, ready=False)
    assert agreeing_with_live(catching_up, "green").state == SlotState.SYNCING
    starting = SlotStatus("blue", SlotState.LIVE)
    assert agreeing_with_live(starting, None).state == SlotState.STARTING
    assert agreeing_with_live(SlotStatus("blue", SlotState.EMPTY), "blue").state == SlotState.EMPTY
