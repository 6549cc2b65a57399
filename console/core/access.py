"""Who may act on an installation, enforced with file permissions (issue 15).

- Acting (any mutating command) needs write access to the state dir: its owner, root, or — when
  `operators_group` is set — a member of that group. The dir is then group-owned and 02770 (setgid,
  so new files keep the group) and its files 0660; the owned proxy include dir is group-owned too.
- Watching (status, history, events, the console read-only) needs read access to the store only:
  with `watchers_group`, the dir is that group's and 02750, and only what watchers need is 0640 —
  the store (and its -wal/-shm), the lock holder, the agent's pid file. Lock files, the admin
  token and agent.log stay 0600: a watcher can neither hold a lock that blocks operators nor read
  a log or a token. Such a user's store is opened read-only (`Store.open_read_only`).
- The proxy's admin socket sits in the state dir, so the same rule admits who may switch; with
  watchers it sits in the 0700 subdirectory `admin/` (nginx makes its sockets 0666, and watchers
  may enter the state dir).
- The actor recorded is the real user (see `actor.py`).

A user who may not act gets one sentence (`AccessDenied`), never a traceback.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from console.core.config.schema import Config
from console.core.fsutil import (
    DB_FILE,
    GROUP_DIR_MODE,
    GROUP_FILE_MODE,
    PRIVATE_FILE_MODE,
    WATCH_DIR_MODE,
    WATCH_FILE_MODE,
    StateDirError,
)
from console.core.lock import AGENT_FILE, HOLDER_FILE

# What a watcher may read; everything else in the state dir stays the owner's (or operators').
WATCHABLE_FILES = frozenset({DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", HOLDER_FILE, AGENT_FILE})


class AccessDenied(StateDirError):
    """This user may not do what was asked; str() is one sentence saying who may."""


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise AccessDenied(
            f"operators_group '{name}' does not exist on this host: create it (groupadd {name}) "
            "or fix operators_group in the configuration."
        ) from None


def may_write_state(state_dir: str | Path) -> bool:
    """Whether this user may act here (a dir that does not exist yet is the creator's)."""
    directory = Path(state_dir).expanduser()
    return not os.path.exists(directory) or os.access(directory, os.W_OK | os.X_OK)


def require_write(config: Config, action: str) -> None:
    """Refuse `action` in one sentence unless this user may write the state dir."""
    directory = Path(config.state_dir)
    if may_write_state(directory):
        return
    if _read_only_mount(directory):
        raise AccessDenied(
            f"Cannot {action}: the state directory {directory} is on a read-only filesystem "
            "(status and history still work); remount it read-write or point state_dir elsewhere."
        )
    who = _who()
    may = "root or the owner of the state directory"
    if config.operators_group:
        may += f", or a member of the group '{config.operators_group}'"
    raise AccessDenied(
        f"{who} may not {action} on this installation: only {may} can act "
        f"(the state directory {directory} is not writable for {who}); use `bluegreen watch` "
        "or `status` to look on."
    )


def require_read(config: Config) -> None:
    directory = Path(config.state_dir)
    if os.path.exists(directory) and not os.access(directory, os.R_OK | os.X_OK):
        who = _who()
        raise AccessDenied(
            f"{who} may not read this installation's state ({directory}): ask an operator to "
            "add you to its watchers_group (or operators_group), or run as root."
        )


def apply_groups(config: Config) -> list[str]:
    """Give the state dir to `operators_group` or `watchers_group` (whichever is set).

    Idempotent; returns what it changed, one line each. Needs the owner or root."""
    name = config.watchers_group or config.operators_group
    if not name:
        return []
    watchers = bool(config.watchers_group)
    dir_mode = WATCH_DIR_MODE if watchers else GROUP_DIR_MODE
    gid = group_id(name)
    notes: list[str] = []
    state = Path(config.state_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _share(state, gid, dir_mode):
        notes.append(f"{state} is now group {name}, mode {dir_mode:o}.")
    for path in state.iterdir():
        if not path.is_file() or path.is_symlink():
            continue
        mode = GROUP_FILE_MODE
        if watchers:
            mode = WATCH_FILE_MODE if path.name in WATCHABLE_FILES else PRIVATE_FILE_MODE
        if _share(path, gid, mode):
            notes.append(f"{path.name} is now group {name}, mode {mode:04o}.")
    if watchers:
        admin = Path(config.admin_socket_path).parent
        if admin.parent == state:  # watchers enter the state dir, never this one
            admin.mkdir(mode=0o700, exist_ok=True)
            os.chmod(admin, 0o700)
        return notes
    include = Path(config.proxy.include_dir)
    include.mkdir(mode=0o755, parents=True, exist_ok=True)
    if _share(include, gid, 0o2775):
        notes.append(f"{include} is now group {name}, mode 2775 (operators rewrite its files).")
    return notes


def _share(path: Path, gid: int, mode: int) -> bool:
    info = path.stat()
    if info.st_gid == gid and stat.S_IMODE(info.st_mode) == mode:
        return False
    try:
        os.chown(path, -1, gid)
        os.chmod(path, mode)
    except OSError as exc:
        raise AccessDenied(
            f"Cannot give {path} to the operators group ({exc.strerror}): run "
            "`bluegreen proxy install` as root or as the owner of the state directory."
        ) from None
    return True


def _read_only_mount(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _who() -> str:
    from console.core.actor import current_actor

    return current_actor().user
