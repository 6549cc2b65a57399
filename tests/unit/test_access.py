"""The access model's pure parts: file modes follow the directory and the group is applied
idempotently (the refusals themselves are proved as real users in tests/security)."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from console.core.access import AccessDenied, apply_groups, group_id
from console.core.config import Config, ProxyConfig
from console.core.fsutil import atomic_write, open_private, private_file_mode


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_are_private_unless_the_dir_is_an_operators_dir(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o2770)
    assert private_file_mode(private) == 0o600 and private_file_mode(shared) == 0o660
    for directory, wanted in ((private, 0o600), (shared, 0o660)):
        atomic_write(directory / "state.json", "{}")
        os.close(open_private(directory / "operator.lock", os.O_RDWR))
        assert _mode(directory / "state.json") == wanted
        assert _mode(directory / "operator.lock") == wanted
    # without setgid the group bits alone do not make a dir shared
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o770)
    assert private_file_mode(loose) == 0o600


def test_operators_group_is_applied_once(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    state, include = tmp_path / "state", tmp_path / "include"
    state.mkdir(mode=0o700)
    atomic_write(state / "bluegreen.db", b"")
    config = Config(
        state_dir=str(state), operators_group=group, proxy=ProxyConfig(include_dir=str(include))
    )
    notes = apply_groups(config)
    assert any("2770" in note for note in notes) and any("bluegreen.db" in note for note in notes)
    assert _mode(state) == 0o2770 and _mode(state / "bluegreen.db") == 0o660
    assert _mode(include) == 0o2775
    assert apply_groups(config) == []  # idempotent
    assert apply_groups(Config(state_dir=str(state))) == []  # no group: nothing to do


def test_an_unknown_group_is_one_sentence() -> None:
    with pytest.raises(AccessDenied, match="does not exist on this host: create it"):
        group_id("no-such-group-bluegreen")
