"""The header's part for a session-kept switch in progress: sessions on each colour and a bar of
how far the old colour has emptied (the same view `status` prints)."""

from __future__ import annotations

from console.core.model import Status


def sessions_parts(status: Status) -> list[str | tuple[str, str]]:
    """'  sessions blue 3 → green 12 [######....]', or nothing when no migration runs."""
    view = status.sessions
    if view is None:
        return []
    old = "?" if view.on_old is None else str(view.on_old)
    new = "?" if view.on_new is None else str(view.on_new)
    return [(f"  sessions {view.old} {old} → {view.new} {new} {view.bar(10)}", "$warning")]
