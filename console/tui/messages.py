"""Messages that cross from worker threads to the UI thread.

Workers never touch widgets: they post one of these and the app handles it on its own thread.
Fast, superseding ones (a fresh poll) define `can_replace` so a backlog collapses to the newest.
"""

from __future__ import annotations

from textual.message import Message

from console.core.model import Color, EventRecord, OperationEvent, SpeedPoint, Status


class Polled(Message):
    """One successful poll of the store: status, new events and the last hour of speed/ETA."""

    def __init__(
        self,
        status: Status,
        events: list[EventRecord],
        history: dict[Color, list[SpeedPoint]],
        generation: int = 0,
    ) -> None:
        super().__init__()
        self.status = status
        self.events = events
        self.history = history
        self.generation = generation  # which opening of a service's screen it was polled for

    def can_replace(self, message: Message) -> bool:
        # Events are incremental: only replace an older poll that brought none.
        return (
            isinstance(message, Polled)
            and not message.events
            and message.generation == self.generation
        )


class PollFailed(Message):
    """A poll raised; `reason` is one sentence for the header."""

    def __init__(self, reason: str, generation: int = 0) -> None:
        super().__init__()
        self.reason = reason
        self.generation = generation

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PollFailed)


class OperationStep(Message):
    """One Progress or Outcome event from a running deploy/switch/rollback."""

    def __init__(self, action: str, event: OperationEvent) -> None:
        super().__init__()
        self.action = action
        self.event = event


class OperationEnded(Message):
    """The operation's worker finished (after its last OperationStep)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
