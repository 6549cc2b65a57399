"""The proxy driver contract, owned by the core: results, failures and what is read back.

The drivers (console/drivers: nginx live or reload, HAProxy) implement `ProxyDriver`; the core only
sees this module, so it never imports a concrete driver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from console.core.holds import MaintenancePage
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import Canary, Color

COLOR_HEADER = "X-Bluegreen-Color"  # added by the proxy: which colour served the response
TOKEN_HEADER = "X-Bluegreen-Token"  # the admin token, required on an opted-in TCP admin endpoint
NO_LIVE_TEXT = "no colour is live yet"  # the proxy's 503 before the first colour goes live


@dataclass(frozen=True, slots=True)
class ReadBack:
    """Where the running proxy routes, as read from it just now.

    `answered` False: the proxy did not answer, so nobody can tell. `answered` True with `color`
    None: the proxy answered that nothing is live (the 503 before a first deploy).
    """

    answered: bool
    color: Color | None = None
    canary: Canary | None = None  # the share the running proxy sends to the idle colour

    def describe(self) -> str:
        if not self.answered:
            return "the proxy did not answer"
        where = "nothing is live in the proxy"
        if self.color:
            where = f"the proxy routes to {self.color}"
        return f"{where} ({self.canary.describe()})" if self.canary else where


UNANSWERED = ReadBack(answered=False)


class ProxyError(Exception):
    """A proxy operation failed; str() is one sentence saying what happened and what to do.

    `read_back` is what the driver read from the proxy after the failure (None: it did not try).
    A driver never claims "nothing changed" itself: the caller decides that from the read-back.
    """

    def __init__(self, message: str, read_back: ReadBack | None = None) -> None:
        super().__init__(message)
        self.read_back = read_back


@dataclass(frozen=True, slots=True)
class SwitchResult:
    color: Color
    cutover_ms: float  # just before issuing the change → first response served by `color`
    verified: bool
    detail: str


@dataclass(frozen=True, slots=True)
class InstallReport:
    """What `proxy install` wrote and what the operator still has to do."""

    written: tuple[str, ...]  # paths rewritten (empty: already up to date)
    validated: bool  # the configured test command accepted them
    steps: str  # the lines to add to the operator's own config, and the reload to run
    reloaded: bool = False


class ProxyDriver(Protocol):
    name: str

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        """Write the owned files for `live` (None: nothing live yet) and `canary`, validate
        them, and make the running proxy agree."""

    def write_files(self, live: Color | None, canary: Canary | None = None) -> tuple[str, ...]:
        """Render and validate the owned files without touching the running proxy; the paths
        rewritten. A rejected set is put back before ProxyError."""

    def switch(self, to: Color) -> SwitchResult:
        """Route to `to` (ending any canary), then probe through the proxy until it answers
        from `to`.

        On failure the ProxyError carries a read-back of where traffic goes now."""

    def set_canary(self, canary: Canary | None) -> None:
        """Send `canary.percent` % of clients — sticky per client: a hash of the canary cookie,
        else of the client address — to `canary.color` (the idle colour); None = none. The live
        colour is untouched; the weight is persisted so a proxy restart keeps it. On failure the
        ProxyError carries a read-back."""

    def set_maintenance(self, page: MaintenancePage | None) -> None:
        """Answer every client request with `page` (503, its Retry-After), None = route again
        exactly as before. Rendered into the owned files (a restart keeps it), applied to the
        running proxy, and waited for; bluegreen's own probe still reaches the colours."""

    def persisted_canary(self) -> Canary | None:
        """The canary the owned files record (what a proxy restart would apply)."""

    def read_back(self) -> ReadBack:
        """Ask the running proxy where it routes (and its canary), with a short timeout; never
        raises."""

    def traffic(self) -> TrafficSnapshot | None:
        """The running proxy's per-colour counters now; None when this proxy cannot count
        (no Lua in reload mode). ProxyError when it does not answer."""

    def current(self) -> Color | None:
        """What the running proxy routes to now; None when nothing is live or it cannot be told."""

    def persisted(self) -> Color | None:
        """What the owned file says (what a proxy restart would route to)."""

    def check(self) -> list[str]:
        """Problems found, one sentence each; empty when all is well."""

    def snippet(self) -> str:
        """What the operator must add to their own proxy configuration, with where it goes."""

    def install_steps(self) -> str:
        """After `proxy install`: the include lines the operator's config needs and the reload."""


def canary_changed_outside_text(stored: Canary | None, running: Canary | None, at: float) -> str:
    """The drift event for a canary weight moved by something other than bluegreen (15.2)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    was = stored.describe() if stored else "no canary"
    now = running.describe() if running else "no canary"
    return (
        f"The canary weight changed outside bluegreen: the proxy sends {now} but bluegreen set "
        f"{was} (seen {when}); the store now follows the proxy. Check who can reach the "
        "proxy's admin endpoint."
    )


def changed_outside_text(stored: Color | None, running: Color | None, at: float) -> str:
    """The drift event for a live colour moved by something other than bluegreen (issue 15.2):
    the agent's per-tick read found the proxy routing elsewhere than the store says."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return (
        f"The live colour changed outside bluegreen: the proxy routes to {running or 'nothing'} "
        f"but bluegreen made {stored or 'nothing'} live (seen {when}); the store now follows "
        "the proxy. Check who can reach the proxy's admin endpoint."
    )


@runtime_checkable
class PeerRouting(Protocol):
    """A proxy that routes a colour to several replicas' endpoints (nginx live mode in front of
    a Swarm): the agent sets each colour's list whenever its answering replicas change."""

    def set_peers(self, color: Color, peers: list[str]) -> None:
        """Route `color` to `peers` (HOST:PORT each) from its next request on; ProxyError (a
        sentence) when the proxy refused or did not answer."""
        ...


@runtime_checkable
class QuickReadBack(Protocol):
    """A proxy whose own answer comes over a local socket in well under a millisecond (nginx
    live mode's admin endpoint): the agent then reads it on its own thread between full ticks,
    waking no sampler thread (console/agent/live_colour.py)."""

    def read_back_within(self, seconds: float) -> ReadBack:
        """The proxy's own answer within `seconds` (no fallback to a probe); never raises."""
        ...
