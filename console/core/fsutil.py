"""Crash-safe file writes and the private state directory.

Every file the console owns goes through `atomic_write`: a reader (or a crash) sees either the old
content or the new, never a torn file. Failures become a `StateDirError` whose message is one
sentence an operator can act on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import secrets
from pathlib import Path

# With `operators_group`, the state dir is group-owned and setgid (new files keep the group) and
# its files are group-writable; without it, both are private to the owner.
# The state database, named here (not in the store) because access.py guards the state directory's
# files and the store itself depends on access: naming it in a leaf keeps both free of a circle.
DB_FILE = "bluegreen.db"
GROUP_DIR_MODE = 0o2770
GROUP_FILE_MODE = 0o660
PRIVATE_FILE_MODE = 0o600
# With `watchers_group`, the state dir is the watchers' group, setgid, 2750: they may read what is
# made "watchable" (the store, the lock holder, the agent's pid file), 0640, and nothing else.
WATCH_DIR_MODE = 0o2750
WATCH_FILE_MODE = 0o640


def private_file_mode(directory: str | Path) -> int:
    """A new private file's mode in `directory`: 0660 in a shared operators' dir, else 0600."""
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return PRIVATE_FILE_MODE
    shared = mode & 0o2000 and mode & 0o070 == 0o070
    return GROUP_FILE_MODE if shared else PRIVATE_FILE_MODE


def watchable_file_mode(directory: str | Path) -> int:
    """A new file watchers may read: 0640 in a watchers' dir (2750), else as `private_file_mode`."""
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return PRIVATE_FILE_MODE
    if mode & 0o2000 and mode & 0o070 == 0o050:
        return WATCH_FILE_MODE
    return private_file_mode(directory)


def open_private(path: Path, flags: int, watchable: bool = False) -> int:
    """os.open with O_CREAT and the directory's private mode (not filtered by the umask);
    `watchable`: readable by the watchers' group, if the directory has one."""
    mode = watchable_file_mode(path.parent) if watchable else private_file_mode(path.parent)
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, mode)
    except OSError:
        pass
    return fd


class StateDirError(Exception):
    """The state dir, or a file the console owns, cannot be read or written; str() says why."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _advice(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "Free space or point state_dir elsewhere"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "Fix its permissions or point state_dir elsewhere"
    return "Check the path or point state_dir elsewhere"


def atomic_write(path: str | Path, data: bytes | str, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically: temp file in the same dir, fsync, rename, fsync dir.

    The temp file is created with O_EXCL and `mode` so it is never readable by others, even briefly;
    without a `mode`, private: 0600, or 0660 in a shared operators' directory.
    On any error the temp file is removed, the old content is left untouched, and StateDirError is
    raised.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = target.parent
    if mode is None:
        mode = private_file_mode(directory)
    # Same directory as the target so rename(2) stays on one filesystem and is atomic.
    temp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    fd = -1
    created = False
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        created = True
        os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask; the caller's mode is not.
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temp, target)
        created = False
    except OSError as exc:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise StateDirError(
            f"Cannot write {target}: {_reason(exc)}. {_advice(exc)}; nothing was changed."
        ) from exc
    try:
        _fsync_dir(directory)
    except OSError as exc:
        # The new content is in place; only its durability across a power cut is in doubt.
        raise StateDirError(
            f"Wrote {target} but could not flush its directory: {_reason(exc)}. {_advice(exc)}."
        ) from exc


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself: without it a power cut can bring back the old directory entry."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def ensure_private_dir(path: str | Path) -> Path:
    """Create `path` (and parents) as 0700 if missing; raise StateDirError if it is unusable.

    An existing directory keeps its mode (the operator may have chosen a group-readable one), but it
    must be a writable directory.
    """
    directory = Path(path).expanduser()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise StateDirError(
            f"State directory {directory} exists but is not a directory. "
            "Move that file away or point state_dir elsewhere."
        ) from exc
    except OSError as exc:
        raise StateDirError(
            f"Cannot create state directory {directory}: {_reason(exc)}. {_advice(exc)}."
        ) from exc
    if not directory.is_dir():
        raise StateDirError(
            f"State directory {directory} exists but is not a directory. "
            "Move that file away or point state_dir elsewhere."
        )
    if not _writable(directory):
        who = user_name()
        raise StateDirError(
            f"State directory {directory} is not writable by this user ({who}), so {who} may "
            "not act on this installation: act as root, its owner or a member of its "
            "operators_group, fix its permissions (chown/chmod), or point state_dir elsewhere."
        )
    return directory


def user_name() -> str:
    """This process's user, by name (uid1234 if it has none)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid{os.getuid()}"


def _writable(directory: Path) -> bool:
    # os.access says yes to root even on a read-only mount, so probe with a real file.
    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    probe = directory / f".probe.{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True
