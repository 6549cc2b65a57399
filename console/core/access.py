"""Who may act on an installation, enforced with file permissions (issue 15).

- Acting (any mutating command) needs write access to the state dir: its owner, root, or — when
  `operators_group` is set — a member of that group. The dir is then group-owned and 02770 (setgid,
  so new files keep the group) and its files 0660; the owned proxy include dir is group-owned too.
- Watching (status, history, the console read-only) needs read access to the store only.
- The proxy's admin socket sits in the state dir, so the same rule admits who may switch.
- The actor recorded is the real user (see `actor.py`).

A user who may not act gets one sentence (`AccessDenied`), never a traceback.
"""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from console.core.config import Config
from console.core.fsutil import GROUP_DIR_MODE, GROUP_FILE_MODE, StateDirError


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


def require_write(config: Config, action: str) -> None:
    """Refuse `action` in one sentence unless this user may write the state dir."""
    directory = Path(config.state_dir)
    if not directory.exists() or os.access(directory, os.W_OK | os.X_OK):
        return
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
    if directory.exists() and not os.access(directory, os.R_OK | os.X_OK):
        who = _who()
        raise AccessDenied(
            f"{who} may not read this installation's state ({directory}): ask an operator to "
            "add you to operators_group, or run as root."
        )


def apply_operators_group(config: Config) -> list[str]:
    """Make the state dir (and the proxy include dir) group-owned for `operators_group`.

    Idempotent; returns what it changed, one line each. Needs the owner or root."""
    name = config.operators_group
    if not name:
        return []
    gid = group_id(name)
    notes: list[str] = []
    state = Path(config.state_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _share(state, gid, GROUP_DIR_MODE):
        notes.append(f"{state} is now group {name}, mode 2770.")
    for path in state.iterdir():
        if path.is_file() and not path.is_symlink() and _share(path, gid, GROUP_FILE_MODE):
            notes.append(f"{path.name} is now group {name}, mode 0660.")
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


def _who() -> str:
    from console.core.actor import current_actor

    return current_actor().user
