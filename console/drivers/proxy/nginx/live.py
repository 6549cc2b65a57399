"""nginx live mode: switch through a Lua shared dict, never a reload.

A reload closes idle keep-alive connections, and a client that sends a POST on one at that
moment gets a reset (FACTS.md: 78 failures in 20 reloads). Instead a `balancer_by_lua_block`
reads the colour from a `lua_shared_dict` that the admin endpoint sets — on a unix socket only
operators can reach, or on an opted-in TCP port with a token. The colour is also rendered into
the file as the fallback, so a restart keeps it.

Crash safety: a switch rewrites only `bluegreen-http.conf`, in one atomic rename, after the dict;
the dict holds one value, so the running nginx routes wholly to one colour too. Truth after an
error: a switch request carries an expiry that nginx enforces, so once it has passed a read-back
of the dict is final — a request stuck in a stalled nginx cannot apply later.
"""

from __future__ import annotations

import contextlib
import time

import httpx

from console.core.contracts.proxy import ProxyError, ReadBack, SwitchResult
from console.core.model import Canary, Color, other
from console.core.timeouts import PROXY_READ_BACK_SECONDS, PROXY_RELOAD_SETTLE_SECONDS
from console.drivers.proxy.nginx.driver import NginxDriver
from console.drivers.proxy.nginx.peers import PEERS_PATH, peer_value
from console.drivers.proxy.nginx.render import HTTP_FILE, NOTHING_LIVE, render_http_conf
from console.drivers.proxy.nginx.sessions import KeptSessionRoutes
from console.drivers.proxy.probe import wait_for_color


class NginxLiveDriver(KeptSessionRoutes, NginxDriver):
    """`ProxyDriver` for nginx with the Lua module: the admin endpoint moves traffic."""

    mode = "live"

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        canary = canary if live is not None else None
        written = self.write_files(live, canary)
        if written or self.unapplied or not self.admin.read_back().answered:
            self.reload("install")
            self.admin.wait(PROXY_RELOAD_SETTLE_SECONDS, self.http_path)
        self.admin.set(live or NOTHING_LIVE, canary)

    def switch(self, to: Color) -> SwitchResult:
        before = self.admin.read_back()
        if not before.answered:
            raise ProxyError(
                f"The nginx admin endpoint {self.admin_where} did not answer within "
                f"{PROXY_READ_BACK_SECONDS:.0f} s, so no switch was sent: check that nginx runs "
                "with the bluegreen include (`bluegreen proxy install`) and that you may act.",
                read_back=self.read_back_through_proxy(),
            )
        started = time.perf_counter()
        self.admin.set(to)  # the switch itself: every worker's next balancer call sees it
        detail = f"nginx now routes to {to} (live, no reload)"
        try:
            cutover_ms = wait_for_color(
                self.probe_url, to, self.proxy.verify_timeout_seconds, started
            )
        except ProxyError as exc:
            # `to` does not answer through the proxy: route back to where traffic was.
            if before.color != to:
                with contextlib.suppress(ProxyError):
                    self.admin.set(before.color or NOTHING_LIVE, before.canary)
            raise ProxyError(f"{exc} Routed back.", read_back=self.read_back()) from None
        # Persist after the dict, so a crash in between leaves each side wholly on one colour,
        # and after the probe, so the file's fsync (up to ~50 ms) is not inside the cutover.
        try:
            self.write(self.http_path, render_http_conf(self.layout(), to))
        except ProxyError as exc:
            # Traffic has moved already; say so rather than fail, `check` shows the drift.
            detail += f", but the file still says {other(to)}: {exc}"
        return SwitchResult(to, cutover_ms, True, detail)

    def set_peers(self, color: Color, peers: list[str]) -> None:
        """Route `color` to these replicas' endpoints (HOST:PORT), in the running nginx only:
        the agent sets them again after a restart empties the dict (nginx/peers.py)."""
        if not self.peers:
            raise ProxyError(
                "This nginx include was rendered for one container per colour: set [runtime] "
                'kind = "swarm", then run `bluegreen proxy install`.'
            )
        try:
            value = peer_value(peers)
        except ValueError as exc:
            raise ProxyError(f"Cannot route {color} to its replicas: {exc}.") from None
        try:
            with self.admin.client(PROXY_READ_BACK_SECONDS) as client:
                response = client.post(PEERS_PATH, params={"color": color, "peers": value})
        except httpx.HTTPError as exc:
            raise ProxyError(
                f"The nginx admin endpoint {self.admin_where} did not take {color}'s replicas "
                f"({type(exc).__name__}); the agent tries again."
            ) from None
        if response.status_code != 200 or response.text.strip() != value:
            raise ProxyError(
                f"The nginx admin endpoint refused {color}'s replicas (HTTP "
                f"{response.status_code}: {response.text.strip()[:80]})."
            )

    def set_canary(self, canary: Canary | None) -> None:
        live = self.refuse_canary_for_live(canary)
        self.admin.set_canary(canary, other(live) if live else "green")
        # Persisted after the dict (as a switch is), so a restart keeps the weight.
        try:
            self.write(self.http_path, render_http_conf(self.layout(), live, canary))
        except ProxyError as exc:
            raise ProxyError(
                f"nginx applies it, but {HTTP_FILE} could not record it ({exc}): run reconcile.",
                read_back=self.read_back(),
            ) from None

    def read_back(self) -> ReadBack:
        # The dict, else what the proxy itself answers with: an unreachable admin socket (or one
        # this user may not open) must not leave the truth unknown while nginx serves. Its canary
        # then is the best known: the file's.
        seen = self.admin.read_back()
        if seen.answered:
            return seen
        seen = self.read_back_through_proxy()
        canary = self.persisted_canary() if seen.color else None
        return ReadBack(True, seen.color, canary) if seen.answered else seen

    def read_back_within(self, seconds: float) -> ReadBack:
        return self.admin.read_back(seconds)

    def current(self) -> Color | None:
        return self.read_back().color

    def running_problems(self, persisted: Color | None, canary: Canary | None) -> list[str]:
        running = self.admin.read_back()
        if not running.answered:
            return [
                f"The nginx admin endpoint {self.admin_where} does not answer: add the "
                "include lines from `bluegreen proxy install` to nginx and reload it."
            ]
        if running.color != persisted:
            return [
                f"nginx routes to {running.color or 'nothing'} but {HTTP_FILE} says "
                f"{persisted or 'nothing'}: run reconcile."
            ]
        if running.canary != canary:
            return [
                f"nginx sends {running.canary.describe() if running.canary else 'no canary'} "
                f"but {HTTP_FILE} records {canary.describe() if canary else 'none'}: run "
                "reconcile."
            ]
        return []
