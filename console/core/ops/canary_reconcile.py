"""Reconcile the canary: the running proxy's weight is the truth, as for the live colour.

A canary is only ever for the idle colour; one the proxy holds for the live colour (left after a
switch by hand) sends nobody anywhere new, so it counts as none. A weight set by anything but
bluegreen is recorded as "changed outside bluegreen" when the agent's per-tick read finds it.
"""

from __future__ import annotations

import time

from console.core.contracts.proxy import ProxyError, ReadBack, canary_changed_outside_text
from console.core.installation import Installation
from console.core.model import Canary, Color


def effective(canary: Canary | None, live: Color | None) -> Canary | None:
    return canary if canary is not None and live is not None and canary.color != live else None


def canary_in_step(inst: Installation, seen: ReadBack, stored: Canary | None) -> bool:
    """Whether the store's canary (`stored`, as the caller just read it) and the owned file's
    agree with the canary the proxy just answered."""
    running = effective(seen.canary, seen.color)
    persisted = effective(inst.proxy.persisted_canary(), seen.color)
    return running == stored and running == persisted


def reconcile_canary(
    inst: Installation, live: Color, seen: ReadBack, changed_outside: bool = False
) -> list[tuple[str, str]]:
    """Make the store and the file follow the canary the proxy answered in `seen`; the
    (what, fixed) pairs found."""
    if not seen.answered:
        return []  # nobody can tell now; the live-colour reconcile already says the proxy is mute
    stored = inst.store.canary()
    running = effective(seen.canary, live)
    found: list[tuple[str, str]] = []
    if running != stored:
        inst.store.set_canary(running)
        if changed_outside:
            what = canary_changed_outside_text(stored, running, time.time())
        else:
            was = stored.describe() if stored else "no canary"
            what = f"The store said {was}, the proxy sends {_text(running)}"
        found.append((what, "store updated"))
    persisted = inst.proxy.persisted_canary()
    if effective(persisted, live) != running or (persisted is not None and running is None):
        try:
            inst.proxy.set_canary(running)
            fixed = "file rewritten"
        except ProxyError as exc:
            fixed = f"file NOT rewritten ({exc})"
        found.append(
            (f"The proxy file recorded {_text(persisted)}, the proxy sends {_text(running)}", fixed)
        )
    return found


def _text(canary: Canary | None) -> str:
    return canary.describe() if canary else "no canary"
