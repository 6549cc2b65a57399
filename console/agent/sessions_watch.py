"""The agent's part in a session-kept switch: count sessions on each colour, keep the proxy's rule.

Each colour's `[sessions.source]` is read on its own sampler thread (a hung application delays
only its count) and the counts are published to the store every tick, so `status`, the console
and the retirement (agent/retire.py) read the same figures. While a migration runs, the running
proxy's rule is compared with the store's: an nginx restart empties its dict, and the rule is put
back on the next tick; a rule with no migration behind it (a rollback that could not clear it) is
cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.agent.samplers import Sampler
from console.core.config.schema import Config
from console.core.contracts.progress import ProgressSource
from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions, SessionRouter
from console.core.contracts.store import OperationLock
from console.core.lock import LockHeld
from console.core.measures.sessions import SessionCounts
from console.core.model import COLORS, Actor, Color
from console.core.store.sessions import migration, put_counts
from console.core.store.store import Store
from console.drivers.progress.sessions import make_sessions_source


class SessionWatch:
    def __init__(
        self,
        config: Config,
        store: Store,
        router: SessionRouter | None,
        lock: OperationLock,
        actor: Actor,
        log: Callable[[str], None],
        stale_after: float,
    ) -> None:
        self.store = store
        self.lock = lock
        self.actor = actor
        self.router = router if config.sessions.enabled else None
        self.log = log
        self.sources: dict[Color, ProgressSource] = {}
        self.samplers: dict[Color, Sampler[int | None]] = {}
        # Without [sessions.source], the proxy's count of distinct count_cookie values.
        self.seen: Sampler[dict[str, int] | None] | None = None
        if config.sessions.proxy_counted and self.router is not None:
            self.seen = Sampler(
                "sessions-proxy",
                "the proxy's sessions count",
                self.router.sessions_seen,
                stale_after=stale_after,
            )
        for color in COLORS:
            source = make_sessions_source(config, color)
            if source is None:
                continue
            self.sources[color] = source
            self.samplers[color] = Sampler(
                f"sessions-{color}",
                source.label,
                lambda source=source: source.read().height,  # type: ignore[misc]
                stale_after=stale_after,
            )

    def wanted(self) -> list[Sampler[Any]]:
        return [*self.samplers.values(), *([self.seen] if self.seen is not None else [])]

    def tick(self, now: float, running: dict[Color, bool]) -> None:
        """Publish this tick's counts (a colour not running has none) and mend the proxy's rule."""
        values: dict[Color, int | None] = {}
        errors: list[str] = []
        if self.seen is not None:
            latest = self.seen.latest()
            seen = latest.value if latest.answered and not self.seen.stale(now) else None
            for color in COLORS:
                values[color] = seen.get(color) if seen and running.get(color) else None
            if seen is None and latest.error:
                errors.append(latest.error)
        if self.samplers or self.seen is not None:
            for color, sampler in self.samplers.items():  # the application's own count
                reading = sampler.latest()
                fresh = reading.answered and not sampler.stale(now)
                values[color] = reading.value if fresh and running.get(color) else None
                if reading.error and running.get(color):
                    errors.append(reading.error)
            put_counts(
                self.store,
                SessionCounts(now, values.get("blue"), values.get("green"), " ".join(errors)),
            )
        if self.router is not None and self._rule_differs():
            # Fixed under the operator lock, looked at again there: a switch sets the rule
            # before it records the migration, and holds the lock in between.
            try:
                with self.lock.acquire("restore the sessions rule", self.actor):
                    self._mend_rule()
            except LockHeld:
                pass  # an operation runs: look again next tick

    def _wanted_rule(self) -> KeptSessions | None:
        wanted = migration(self.store)
        return wanted.kept if wanted and self.store.live() == wanted.new else None

    def _rule_differs(self) -> bool:
        assert self.router is not None
        return self.router.kept_sessions() != self._wanted_rule()

    def _mend_rule(self) -> None:
        assert self.router is not None
        kept = self._wanted_rule()
        if self.router.kept_sessions() == kept:
            return
        try:
            self.router.set_sessions(kept)
        except ProxyError as exc:
            self.log(f"sessions: the proxy's rule could not be restored: {exc}")
            return
        self.log(f"sessions: the proxy's rule restored ({kept.describe() if kept else 'none'})")

    def close(self) -> None:
        for sampler in self.wanted():
            sampler.close()
        for source in self.sources.values():
            source.close()
