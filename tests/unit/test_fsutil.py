"""atomic_write and ensure_private_dir against a real filesystem."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from console.core.fsutil import StateDirError, atomic_write, ensure_private_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_creates_file_with_mode_and_content(tmp_path: Path) -> None:
    target = tmp_path / "nginx.inc"
    atomic_write(target, "upstream live { server 127.0.0.1:8081; }\n")
    assert target.read_text() == "upstream live { server 127.0.0.1:8081; }\n"
    assert _mode(target) == 0o600
    atomic_write(target, b"\x00bytes", mode=0o644)
    assert target.read_bytes() == b"\x00bytes"
    assert _mode(target) == 0o644
    assert os.listdir(tmp_path) == ["nginx.inc"]


def test_atomic_write_mode_ignores_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "shared", "x", mode=0o644)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "shared") == 0o644


def test_failed_write_raises_sentence_and_leaves_nothing(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("keep")
    with pytest.raises(StateDirError) as caught:
        atomic_write(not_a_dir / "child", "data")
    message = str(caught.value)
    assert str(not_a_dir / "child") in message
    assert "nothing was changed" in message
    assert "Traceback" not in message
    assert sorted(os.listdir(tmp_path)) == ["file"]
    assert not_a_dir.read_text() == "keep"


def test_failed_rename_preserves_old_content_and_removes_temp(tmp_path: Path) -> None:
    # The temp file is written, but the rename fails because the target is a non-empty directory.
    target = tmp_path / "conf"
    target.mkdir()
    (target / "inside").write_text("old")
    with pytest.raises(StateDirError):
        atomic_write(target, "new")
    assert sorted(os.listdir(tmp_path)) == ["conf"]
    assert (target / "inside").read_text() == "old"


def test_replacing_keeps_old_content_on_failure_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "holder"
    atomic_write(target, "old")

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StateDirError, match=r"No space left on device\. Free space"):
        atomic_write(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["holder"]


def test_readers_never_see_a_torn_file(tmp_path: Path) -> None:
    target = tmp_path / "status"
    versions = [bytes([65 + i]) * 200_000 for i in range(4)]
    atomic_write(target, versions[0])
    seen: set[bytes] = set()
    stop = threading.Event()

    def read_loop() -> None:
        while not stop.is_set():
            seen.add(target.read_bytes())

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for i in range(40):
            atomic_write(target, versions[i % 4])
    finally:
        stop.set()
        reader.join()
    assert seen <= set(versions)


def test_ensure_private_dir_creates_0700_with_parents(tmp_path: Path) -> None:
    created = ensure_private_dir(tmp_path / "a" / "state")
    assert created.is_dir()
    assert _mode(created) == 0o700
    assert os.listdir(created) == []  # the write probe cleaned up after itself
    assert ensure_private_dir(created) == created


def test_ensure_private_dir_rejects_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("")
    with pytest.raises(StateDirError, match="not a directory"):
        ensure_private_dir(blocker)
    with pytest.raises(StateDirError, match="point state_dir elsewhere"):
        ensure_private_dir(blocker / "below")


def test_ensure_private_dir_rejects_unwritable_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root can write anywhere, so simulate the kernel's refusal the way a non-root user meets it.
    real_open = os.open

    def refuse_probe(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if ".probe." in os.fspath(path):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refuse_probe)
    with pytest.raises(StateDirError, match=r"is not writable.*chown/chmod"):
        ensure_private_dir(tmp_path)
