"""Docker's event stream, one per engine per process: which containers changed, so an idle
watcher does not inspect its containers on every tick (issue 23: the agent's idle cost).

An agent watching 20 services inspected 40 containers every few seconds to learn, nearly every
time, that nothing had changed. The engine says when something does: `/events` streams every
container's create, start, die, restart, health change, destroy… `ContainerFeed` follows that
stream on one thread for every service of the process and counts the events per container name;
`change_token(name)` hands out (connection, count) and a watcher keeps its last inspect while the
token it took before that inspect is still the current one (agent/container_cache.py).

Never trust a dead stream:
- While the stream is not connected (not yet, broken, the engine restarting) there is no token:
  every read inspects, as before. Each (re)connection starts a new epoch, so everything inspected
  before it is inspected again; it asks for the last few seconds' events too, so one that fell
  between the break and the new connection still counts.
- A stalled engine keeps the stream's socket open and silent: a token is only handed out after
  the engine answered a ping within the last second (one ping serves every service asking in
  that second), so a hung dockerd is noticed as before — the ping waits, and its read is stale.
- An event the stream cannot attribute to a name invalidates every container.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

# A ping that started this recently vouches for the engine: a stalled one is noticed within it.
PING_FRESH_SECONDS = 1.0
_RETRY_MIN_SECONDS = 0.5
_RETRY_MAX_SECONDS = 5.0
# On (re)connecting, the engine replays this much of its recent history: an event that happened
# while the stream was down is not lost (a few extra invalidations cost one inspect each).
_REPLAY_SECONDS = 3
# Exec events are what health checks and `docker exec` do inside a container: not its state.
_IGNORED_PREFIXES = ("exec_",)

Call = Callable[..., Any]  # DockerRuntime._call: bounded, rebuilds its client after a restart


class ContainerFeed:
    """One engine's container events for every watcher of this process (see the module doc)."""

    def __init__(self, call: Call, ping: Callable[[], object] | None = None) -> None:
        self._call = call
        # The engine's ping: through the SDK unless the runtime has a cheaper way to ask it.
        self._ping = ping or (lambda: self._call(lambda client: client.api.ping()))
        self._lock = threading.Lock()
        self._changes: dict[str, int] = {}
        self._epoch = 0  # bumped by every (re)connection of the stream
        self._unattributed = 0  # events without a container name: they invalidate everything
        self._connected = False
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._ping_lock = threading.Lock()
        self._ping_ok_started = -float("inf")  # monotonic start of the last ping that answered
        self._ping_failed_at = -float("inf")
        self._ping_error: Exception | None = None
        self.connects = 0  # streams opened (for tests and the bench)
        self.events = 0  # container events received
        self.error: str | None = None  # why the stream last ended

    # ── the watchers' side ──
    def change_token(self, name: str) -> tuple[int, int, int] | None:
        """A value that differs once anything happened to container `name` after it was taken;
        None while the stream cannot vouch for that. Raises as `inspect` does when the engine
        does not answer a ping."""
        self._start()
        with self._lock:
            if not self._connected:
                return None
        self._vouch()
        with self._lock:
            if not self._connected:
                return None
            return (self._epoch, self._unattributed, self._changes.get(name, 0))

    def fresh_token(self, name: str) -> tuple[int, int, int] | None:
        """`change_token(name)` when the stream is connected and a ping that started within
        PING_FRESH_SECONDS answered; None otherwise. Never pings, never waits for a ping in
        flight: it runs on the agent's own thread."""
        if time.monotonic() - self._ping_ok_started > PING_FRESH_SECONDS:
            return None
        with self._lock:
            if not self._connected:
                return None
            return (self._epoch, self._unattributed, self._changes.get(name, 0))

    def cut(self) -> None:
        """Close the current stream as a daemon restart would (tests; the thread reconnects)."""
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected

    def _vouch(self) -> None:
        """The engine answered a ping that started within PING_FRESH_SECONDS; one ping at a
        time, and a ping that failed while this thread waited for it fails this read too."""
        asked = time.monotonic()
        with self._ping_lock:
            if self._ping_ok_started >= asked - PING_FRESH_SECONDS:
                return
            if self._ping_failed_at >= asked and self._ping_error is not None:
                raise type(self._ping_error)(str(self._ping_error))
            started = time.monotonic()
            try:
                self._ping()
            except Exception as exc:
                self._ping_failed_at, self._ping_error = time.monotonic(), exc
                raise
            self._ping_ok_started = started

    # ── the stream's thread ──
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        backoff = _RETRY_MIN_SECONDS
        while True:
            try:
                stream = self._call(self._open)
                with self._lock:
                    self._stream, self._connected = stream, True
                    self._epoch += 1
                self.connects += 1
                backoff = _RETRY_MIN_SECONDS
                for event in stream:
                    self._note(event)
                self.error = "the engine ended the stream"
            except Exception as exc:  # the engine away or restarting: retried below
                self.error = str(exc) or type(exc).__name__
            finally:
                with self._lock:
                    self._stream, self._connected = None, False
            time.sleep(backoff)
            backoff = min(_RETRY_MAX_SECONDS, backoff * 2)

    @staticmethod
    def _open(client: docker.DockerClient) -> Any:
        since = int(time.time()) - _REPLAY_SECONDS
        return client.api.events(since=since, filters={"type": "container"}, decode=True)

    def _note(self, event: Mapping[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        if action.startswith(_IGNORED_PREFIXES):
            return
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {} if isinstance(actor, dict) else {}
        names = {
            str(attributes[key]).lstrip("/")
            for key in ("name", "oldName")
            if isinstance(attributes, dict) and attributes.get(key)
        }
        with self._lock:
            self.events += 1
            if not names:
                self._unattributed += 1
            for name in names:
                self._changes[name] = self._changes.get(name, 0) + 1


_FEEDS: dict[str, ContainerFeed] = {}
_FEEDS_LOCK = threading.Lock()


def feed_for(
    where: str,
    make_call: Callable[[], Call],
    make_ping: Callable[[], Callable[[], object]] | None = None,
) -> ContainerFeed:
    """The process's one feed for the engine at `where`, shared by every service's runtime;
    `make_call` gives it a client of its own, built once (a service's runtime may be closed),
    `make_ping` its ping (default: through that client)."""
    with _FEEDS_LOCK:
        feed = _FEEDS.get(where)
        if feed is None:
            ping = make_ping() if make_ping is not None else None
            feed = _FEEDS[where] = ContainerFeed(make_call(), ping)
        return feed


class ChangesMixin:
    """The runtime's side (core/contracts/runtime.ContainerChanges and KeptChanges): through the
    process's one feed for this engine, on a runtime of its own (a service's may be closed)."""

    _base_url: str | None
    read_timeout: float

    if TYPE_CHECKING:

        @property
        def where(self) -> str: ...

    def change_token(self, name: str) -> tuple[int, int, int] | None:
        return self._feed().change_token(name)

    def fresh_change_token(self, name: str) -> tuple[int, int, int] | None:
        """The token if known without asking the engine (see `ContainerFeed.fresh_token`)."""
        return self._feed().fresh_token(name)

    def _feed(self) -> ContainerFeed:
        from console.drivers.docker.runtime import DockerRuntime  # the runtime builds on this

        own = partial(DockerRuntime, self._base_url, self.read_timeout)
        return feed_for(self.where, lambda: own()._call, lambda: own().engine_ping)
