"""The access model's pure parts: file modes follow the directory and the group is applied
idempotently (the refusals themselves are proved as real users in tests/security)."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from console.core.access import AccessDenied, apply_groups, group_id
from console.core.config.load import ConfigError, parse_config
from console.core.config.proxy import NginxProxyConfig
from console.core.config.schema import Config
from console.core.fsutil import atomic_write, open_private, private_file_mode, watchable_file_mode


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
        state_dir=str(state),
        operators_group=group,
        proxy=NginxProxyConfig(include_dir=str(include)),
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


def test_watchers_group_opens_only_what_watchers_need(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for name in ("bluegreen.db", "operator.holder", "agent.json", "agent.log", "operator.lock",
                 "nginx-admin.token"):  # fmt: skip
        atomic_write(state / name, b"", mode=0o660)
    config = Config(
        state_dir=str(state),
        watchers_group=group,
        proxy=NginxProxyConfig(include_dir=str(tmp_path / "include")),
    )
    notes = apply_groups(config)
    assert _mode(state) == 0o2750 and any("2750" in note for note in notes)
    readable = {"bluegreen.db", "operator.holder", "agent.json"}
    for path in state.iterdir():
        if path.is_file():
            assert _mode(path) == (0o640 if path.name in readable else 0o600), path.name
    # nginx makes its sockets 0666: with watchers in the state dir, the socket moves to admin/
    admin = Path(config.admin_socket_path).parent
    assert admin == state / "admin" and _mode(admin) & 0o077 == 0
    assert apply_groups(config) == []  # idempotent
    # new files follow: the store (and what status shows) readable, the rest private
    assert watchable_file_mode(state) == 0o640 and private_file_mode(state) == 0o600


def test_watchers_and_operators_groups_together_are_refused(tmp_path: Path) -> None:
    text = (
        f'state_dir = "{tmp_path}"\noperators_group = "ops"\nwatchers_group = "devs"\n'
        '[image]\nrepository = "x"\n[slots.blue]\ncontainer = "b"\nhost_port = 1\n'
        '[slots.green]\ncontainer = "g"\nhost_port = 2\n[proxy]\ninclude_dir = "/tmp/x"\n'
    )
    with pytest.raises(ConfigError, match="both set, but the state directory has one group"):
        parse_config(text)


def test_watching_needs_no_secret(tmp_path: Path) -> None:
    text = (
        f'state_dir = "{tmp_path}"\nsecrets_file = "{tmp_path / "absent.env"}"\n'
        '[image]\nrepository = "x"\n[source]\ndb_url = "${BG_UNSET_SOURCE}"\n'
        '[slots.blue]\ncontainer = "b"\nhost_port = 1\n'
        '[slots.green]\ncontainer = "g"\nhost_port = 2\n[proxy]\ninclude_dir = "/tmp/x"\n'
    )
    with pytest.raises(ConfigError):
        parse_config(text)  # an operator's command needs the secrets file and every name
    watching = parse_config(text, watching=True)
    assert watching.source.db_url == "${BG_UNSET_SOURCE}"  # as written: no secret to show
