"""What every mutating operation shares: refuse in read-only mode, take the operator lock, know
the actor, and turn any driver failure into a one-sentence Outcome instead of a traceback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from console.core.access import AccessDenied, require_write
from console.core.fsutil import StateDirError
from console.core.holds import freeze_refusal
from console.core.installation import Installation
from console.core.model import Actor


class OperationRefused(Exception):
    """An operation that cannot proceed; the message says why and what to do."""


class FrozenError(OperationRefused):
    """Releases are frozen (`bluegreen freeze`): deploy, switch and canary wait for `unfreeze`."""


class ReadOnlyError(OperationRefused):
    def __init__(self, action: str) -> None:
        super().__init__(
            f"This console is read-only: '{action}' is not allowed. Open it without --read-only "
            "(and not with `watch`) to act."
        )


@contextlib.contextmanager
def mutating(inst: Installation, action: str, actor: Actor, read_only: bool) -> Iterator[None]:
    """Hold the operator lock for `action`; raises ReadOnlyError, LockHeld or FrozenError
    before any change."""
    if read_only:
        raise ReadOnlyError(action)
    require_write(inst.config, action)  # one sentence for a user who may not act
    with contextlib.ExitStack() as held:
        with before_any_change(action):
            held.enter_context(inst.lock.acquire(action, actor))
            held.enter_context(inst.changing_under(inst.lock))
            # Under the lock, so a freeze set a moment ago is seen (freeze takes the lock too).
            freeze = inst.store.freeze()
        refusal = freeze_refusal(freeze, action, time.time()) if freeze else None
        if refusal:
            raise FrozenError(refusal)
        yield


@contextlib.contextmanager
def before_any_change(action: str) -> Iterator[None]:
    """A store that fails here (a shared one: down, stalled, cut off) failed before the
    operation changed anything: its sentence says so."""
    try:
        yield
    except AccessDenied:
        raise
    except StateDirError as exc:
        raise StateDirError(f"{exc} The {action} did not start: nothing was changed.") from None


def describe_failure(exc: BaseException) -> str:
    """A redaction-safe sentence for a failure from a driver (their messages are sentences)."""
    text = str(exc).strip() or exc.__class__.__name__
    return text if text.endswith((".", "!", "?")) else text + "."
