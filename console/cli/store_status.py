"""`bluegreen status` over a shared store that does not answer: the last state, and its age.

A host that reads a shared store's status keeps what it showed (text and JSON) in its state
directory. When the store is unreachable — PostgreSQL stopped, stalled, cut off — `status` says
so in one paragraph, with when that last state was read, and shows it, instead of only an error.
It exits 1: what it shows may no longer be true. SQLite stores are shown as always.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any

from console.cli import render
from console.cli.exits import EXIT_FAILED, EXIT_OK
from console.core.durations import duration_text
from console.core.fsutil import StateDirError, atomic_write
from console.core.model import Status
from console.core.service import Console

LAST_STATUS_FILE = "last-status.json"


def show_status(console: Console, as_json: bool) -> int:
    """Print the status (and remember it, for a shared store); or, with the store unreachable,
    the last one remembered here and its age."""
    shared = console.config.store.shared
    try:
        try:
            status = console.status()
        finally:
            console.close()
    except StateDirError as exc:
        if not shared:
            raise
        return _show_last(console, exc, as_json)
    data = render.status_json(status)
    text = _text(status, console.config.catchup)
    print(json.dumps(data, indent=2) if as_json else text, end="" if not as_json else "\n")
    if shared:
        _remember(console, status.at, data, text)
    return EXIT_OK


def _text(status: Status, catchup: bool) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        render.print_status(status, catchup=catchup)
    return out.getvalue()


def _path(console: Console) -> Path:
    return Path(console.config.state_dir) / LAST_STATUS_FILE


def _remember(console: Console, at: float, data: dict[str, Any], text: str) -> None:
    # A watcher may not write the state directory: then there is just no last state here.
    with contextlib.suppress(StateDirError, OSError):
        _path(console).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(_path(console), json.dumps({"at": at, "json": data, "text": text}))


def _show_last(console: Console, exc: StateDirError, as_json: bool) -> int:
    try:
        last = json.loads(_path(console).read_text())
        at = float(last["at"])
    except (OSError, ValueError, KeyError, TypeError):
        raise StateDirError(
            f"{exc} This host has not read its status before, so there is no last state to show."
        ) from None
    age = max(0.0, time.time() - at)
    when = time.strftime("%H:%M:%S", time.localtime(at))
    said = (
        f"The store is unreachable: {exc} Below is the last state this host read, at {when} "
        f"({duration_text(age)} ago); it may have changed since."
    )
    if as_json:
        store = {"reachable": False, "error": str(exc), "last_known_at": at, "age_seconds": age}
        print(json.dumps({**last["json"], "store": store}, indent=2))
    else:
        render.error(said)
        print(last["text"], end="")
    return EXIT_FAILED
