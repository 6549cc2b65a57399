"""No change by an agent that no longer leads: the proxy and the runtime behind a fence.

With a shared store (issue 24) a standby agent takes over when the leader's lease lapses. The
leader may not know yet — its host cut off, its clock paused — so every call that changes the
proxy or the runtime first asks the lease (`Lease.confirm`, one round trip to the store). A
refused call raises `LeaseLost`, which the operations turn into their one-sentence outcome, the
same way as a proxy or runtime failure. Reads pass straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The calls that change what serves: the proxy's routing and the containers.
PROXY_CHANGES = frozenset({"install", "write_files", "switch", "set_canary", "converge"})
RUNTIME_CHANGES = frozenset({"start", "stop", "remove"})


class LeaseLost(Exception):
    """This agent no longer holds the lease: it must change nothing."""


class LockLost(LeaseLost):
    """The operation's operator lock is gone (a shared store restarted or cut off): the
    operation must change nothing more."""


class Fenced:
    """`target` with each call named in `changes` checked against `confirm` first."""

    def __init__(
        self, target: Any, changes: frozenset[str], confirm: Callable[[], bool], part: str
    ) -> None:
        self._target = target
        self._changes = changes
        self._confirm = confirm
        self._part = part

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name not in self._changes:
            return attribute

        def fenced(*args: Any, **kwargs: Any) -> Any:
            if not self._confirm():
                raise LeaseLost(
                    f"This agent no longer holds its lease, so it did not {name} the "
                    f"{self._part}: another agent acts now (see `bluegreen status`)."
                )
            return attribute(*args, **kwargs)

        return fenced
