"""A session-kept switch's figures: the migration it opened (`Migration`, recorded by the switch),
the sessions the agent counted on each colour (`SessionCounts`), and the view every console shows
(`MigrationView`: sessions on each colour and a bar of how far the old colour has emptied). Pure
values; core/store/sessions.py keeps the first two in the state table."""

from __future__ import annotations

from dataclasses import dataclass

from console.core.contracts.sessions import KeptSessions
from console.core.durations import duration_text
from console.core.model import Color


@dataclass(frozen=True, slots=True)
class Migration:
    """Sessions kept on `old` since `started_at`; retired by `retire` or at `deadline`."""

    old: Color
    new: Color
    match: str  # the cookie value kept on `old`
    started_at: float
    deadline: float  # the timeout: `old` is retired then at the latest
    retire: str  # auto | confirm | timeout
    started_with: int | None = None  # sessions on `old` at the switch (None: not counted)
    zero_said_at: float = 0.0  # confirm mode: when "0 sessions left" was notified

    @property
    def kept(self) -> KeptSessions:
        return KeptSessions(self.old, self.match, self.new)


@dataclass(frozen=True, slots=True)
class SessionCounts:
    """Sessions on each colour as the agent last counted them (None: not counted or failed)."""

    at: float
    blue: int | None = None
    green: int | None = None
    error: str = ""  # the last failure, one sentence (redacted)

    def on(self, color: Color) -> int | None:
        return self.blue if color == "blue" else self.green


@dataclass(frozen=True, slots=True)
class MigrationView:
    old: Color
    new: Color
    retire: str  # auto | confirm | timeout
    deadline: float
    on_old: int | None  # sessions still on the old colour (None: not counted)
    on_new: int | None
    started_with: int | None  # on the old colour at the switch
    error: str = ""

    @classmethod
    def of(cls, migration: Migration, counts: SessionCounts | None) -> MigrationView:
        on_old = counts.on(migration.old) if counts else None
        on_new = counts.on(migration.new) if counts else None
        error = counts.error if counts else ""
        return cls(
            migration.old,
            migration.new,
            migration.retire,
            migration.deadline,
            on_old,
            on_new,
            migration.started_with,
            error,
        )

    def moved_share(self) -> float | None:
        """0..1: how much of the old colour's sessions have ended since the switch."""
        if self.on_old is None or not self.started_with:
            return None if self.on_old is None else 1.0 if self.on_old == 0 else None
        return max(0.0, min(1.0, 1 - self.on_old / self.started_with))

    def bar(self, width: int = 20) -> str:
        share = self.moved_share()
        if share is None:
            return "[" + "?" * width + "]"
        filled = round(share * width)
        return "[" + "#" * filled + "." * (width - filled) + "]"

    def summary(self, now: float) -> str:
        """'sessions: blue 3 · green 12 [######....] retire auto, at the latest in 1h58m'."""
        old = "?" if self.on_old is None else str(self.on_old)
        new = "?" if self.on_new is None else str(self.on_new)
        left = duration_text(max(0.0, self.deadline - now))
        how = {
            "auto": "retired at 0 sessions",
            "confirm": "retired once confirmed (bluegreen sessions retire)",
            "timeout": "retired at the timeout",
        }.get(self.retire, self.retire)
        text = (
            f"sessions kept on {self.old}: {self.old} {old} · {self.new} {new} "
            f"{self.bar()} — {how}, at the latest in {left}"
        )
        return f"{text} ({self.error})" if self.error else text
