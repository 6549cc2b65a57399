"""What one hook run was: the record the store keeps, `history --json` shows, and the sentence an
operator reads when it failed."""

from __future__ import annotations

from dataclasses import dataclass

LAST_LINES = 5  # how many of its last output lines a run keeps (and a failure quotes)
_LINE_CHARS = 200  # each at most this long in the record


@dataclass(frozen=True, slots=True)
class HookRun:
    stage: str
    name: str
    kind: str
    color: str | None
    deployment_id: int | None
    actor: str
    started_at: float
    seconds: float | None = None  # None while it runs (or when an agent restart cut it short)
    exit_code: int | None = None  # None: killed at its timeout, or it never started
    timed_out: bool = False
    error: str | None = None  # why it could not run at all (no such program, Docker down)
    last_lines: tuple[str, ...] = ()
    timeout_seconds: float = 0.0
    id: int = 0

    @property
    def ok(self) -> bool:
        return self.seconds is not None and self.exit_code == 0 and not self.timed_out

    def what_happened(self) -> str:
        if self.seconds is None:
            return "did not finish (interrupted)"
        took = f"{self.seconds:.1f} s"
        if self.error:
            return f"could not run: {self.error.rstrip('.')}"
        if self.timed_out:
            return f"was killed at its timeout of {self.timeout_seconds:g} s"
        if self.exit_code == 0:
            return f"succeeded in {took}"
        return f"failed with exit {self.exit_code} after {took}"

    def sentence(self) -> str:
        """One paragraph: which hook, what happened, its last lines."""
        text = f"Hook {self.name} ({self.stage}, {self.kind}) {self.what_happened()}."
        if self.last_lines and not self.ok:
            quoted = " | ".join(self.last_lines)
            text += f" Its last lines: {quoted}"
        return text


def clip(line: str) -> str:
    return line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…"
