"""What users get, checked every tick: the proxy's live colour (and canary) against the store's.

The proxy is the truth of where traffic goes. A stalled nginx that later applies a queued admin
request, an operator's hand edit, a proxy restart: each moves traffic without the store knowing.
So every tick the agent reads the running proxy's colour (one cheap admin call, on its own
sampler thread so a hung proxy costs the tick nothing) and, when it disagrees with the store or
with the persisted file, fixes the store and the file to match the proxy, records the drift as
"changed outside bluegreen" with the time, and notifies. A proxy whose admin answers a local
socket in well under a millisecond (nginx live mode: `QuickReadBack`) is read on the agent's own
thread instead, within QUICK_READ_SECONDS, waking no thread (issue 23's idle cost); a read that
does not answer in time, or that finds something to fix, goes to the sampler's thread as before.
A canary weight moved behind bluegreen's back (issue 15.2) is found and fixed the same way
(core/ops/canary_reconcile.py).

It never fights an operation: the fix runs under the operator lock, taken without waiting, and the
proxy is read again under it. While a switch (or anything else) holds the lock the tick is
skipped; the next tick after it ends decides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from console.agent.samplers import QUICK_READ_SECONDS, Sampler
from console.core import timeouts
from console.core.contracts.notifier import Notifier
from console.core.contracts.offers import offers
from console.core.contracts.proxy import ProxyDriver, QuickReadBack, ReadBack
from console.core.contracts.store import OperationLock
from console.core.lock import LockHeld
from console.core.model import Actor, Canary, Color
from console.core.ops.reconcile import Drift
from console.core.store.store import Store


class ProxySilent(Exception):
    """The proxy did not say which colour it routes to."""


class LiveColourWatch:
    """Owns the proxy sampler; `request()` each tick, `published()` for the store."""

    def __init__(
        self,
        proxy: ProxyDriver,
        store: Store,
        lock: OperationLock,
        notifier: Notifier,
        *,
        canary_in_step: Callable[[ReadBack, Canary | None], bool],
        reconcile: Callable[[], Iterable[Drift]],
        service: str,
        stale_after: float,
        actor: Actor,
        log: Callable[[str], None],
        converge: Callable[[], object] | None = None,
    ) -> None:
        """The core's checks, bound to the installation by the agent loop: `canary_in_step`
        (console/core/ops/canary_reconcile.py) says whether the store and the file agree with the
        canary the proxy answered; `reconcile` is `reconcile_live(changed_outside=True)`, run
        under the lock. `converge`: with several edge proxies, the recorded intent re-applied to
        an edge that differs (console/core/ops/edges.py), run before each read."""
        # What the agent's tick just read of the store, for the quick read that follows on the
        # same thread (`steered`): each is one store read fewer every second (issue 23).
        self._steered: tuple[Color | None, Canary | None] | None = None
        self.proxy = proxy
        self.store = store
        self.lock = lock
        self.notifier = notifier
        self.canary_in_step = canary_in_step
        self.reconcile = reconcile
        self.service = service
        self.actor = actor
        self.log = log
        self.converge = converge
        self.fixes = 0  # drifts fixed since the agent started (for tests and the log)
        # Several edges converge before each read: that stays on the sampler's thread.
        quick = proxy if converge is None and offers(proxy, QuickReadBack) else None  # type: ignore[type-abstract]
        self.sampler: Sampler[Color | None] = Sampler(
            "proxy",
            "the proxy",
            self._observe,
            stale_after=stale_after,
            quick=partial(self._agrees, quick) if quick is not None else None,
        )

    def close(self) -> None:
        self.sampler.close()

    # ── on the agent's thread ──
    def steered(self, read: tuple[Color | None, Canary | None] | None) -> None:
        """The store's live colour and canary as this tick read them a moment ago: its quick
        read compares the proxy with these instead of reading them again (used once); None
        once the tick is over."""
        self._steered = read

    def _agrees(self, proxy: QuickReadBack) -> tuple[bool, Color | None]:
        """The proxy's colour read on the asking thread, within QUICK_READ_SECONDS (its admin
        answers a local socket in well under a millisecond), when it agrees with the store and
        the file — the case of every tick but a drift's; (False, None) hands the read to the
        sampler's thread: no answer in time (the thread waits its full timeout and tries the
        proxy itself), or something to fix (under the lock, which may reload nginx)."""
        steered, self._steered = self._steered, None
        seen = proxy.read_back_within(QUICK_READ_SECONDS)
        if not seen.answered:
            return False, None
        running = seen.color
        # A decision made since the tick read it looks like a drift here: the sampler's thread
        # then reads the store again, and fixes nothing that is in step.
        stored = steered[0] if steered is not None else self.store.live()
        if running is None or stored is None:
            return True, running
        canary = steered[1] if steered is not None else self.store.canary()
        if self._in_step(seen, stored, canary):
            return True, running
        return False, None

    # ── on the sampler's thread ──
    def _observe(self) -> Color | None:
        if self.converge is not None:
            self.converge()
        proxy = self.proxy
        seen = proxy.read_back()
        if not seen.answered:
            raise ProxySilent(
                f"{proxy.name} did not say which colour it routes to within "
                f"{timeouts.seconds_text(timeouts.PROXY_READ_BACK_SECONDS)} s."
            )
        running = seen.color
        stored = self.store.live()
        # Nothing live (yet) on either side is settled by the first switch or the agent's
        # start-up reconcile, not here.
        if running is None or stored is None:
            return running
        if not self._in_step(seen, stored, self.store.canary()):
            self._fix(running, stored)
        return running

    def _in_step(self, seen: ReadBack, stored: Color, canary: Canary | None) -> bool:
        """The proxy's answer agrees with the store's live colour and canary and with the owned
        file: nothing to fix."""
        running = seen.color
        return (
            running == stored
            and self.proxy.persisted() == running
            and self.canary_in_step(seen, canary)
        )

    def _fix(self, seen: Color, stored: Color) -> None:
        try:
            with self.lock.acquire("reconcile the live colour", self.actor):
                # Read again under the lock: what was seen may have been a switch in flight.
                drifts = self.reconcile()
        except LockHeld as exc:
            self.log(f"proxy routes to {seen}, store says {stored}; not fixed now: {exc}")
            return
        except Exception as exc:  # logged here: the sampler would only keep it as an error
            self.log(f"proxy routes to {seen}, store says {stored}; fixing failed: {exc!r}")
            raise
        for drift in drifts:
            if drift.what.startswith("Could not read the proxy"):
                continue
            self.fixes += 1
            text = f"{drift.what} — {drift.fixed}."
            self.log(f"drift: {text}")
            self.notifier.send("drift", f"{self.service}: {text}", "warning")
