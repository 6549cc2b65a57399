"""nginx reload mode: every change is the files rewritten, `nginx -t`, and a reload.

For an nginx without the Lua module (or an operator who wants none of it in the request path):
no admin endpoint, so what the running nginx does is read through the proxy itself — the colour
header of its answer, and the canary its routes answer a probe with. A reload drops idle
keep-alive connections a client may be sending on at that instant (FACTS.md); live mode does not.

Where the Lua module is loaded, the includes also count traffic (nginx/traffic.py); where
`nginx -t` refuses the Lua, they are rendered again without it, and the http include says so.
"""

from __future__ import annotations

import time

from console.core.contracts.proxy import ProxyError, ReadBack, SwitchResult
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import Canary, Color
from console.drivers.proxy.command import run_command
from console.drivers.proxy.nginx.driver import NginxDriver
from console.drivers.proxy.nginx.sessions_reload import NO_LUA_COUNT, ReloadSessionRoutes
from console.drivers.proxy.nginx.traffic import NO_LUA_MARKER, NO_LUA_NOTE, lua_unavailable
from console.drivers.proxy.probe import RELOAD_CONFIRMATIONS, wait_for_color


class NginxReloadDriver(ReloadSessionRoutes, NginxDriver):
    """`ProxyDriver` for nginx by rewrite and reload."""

    mode = "reload"

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        canary = canary if live is not None else None
        had_canary = self.persisted_canary() is not None
        if self.write_files(live, canary) or self.unapplied:
            self.reload("install")
            if canary is not None or had_canary:  # the reload returns before it applies
                self.wait_for_canary(canary)

    def switch(self, to: Color) -> SwitchResult:
        previous = self.files_now()
        self.write_files(to)  # validated; restored by write_files itself if nginx -t fails
        started = time.perf_counter()
        try:
            run_command(self.proxy.reload_command, "reload")
        except ProxyError as exc:
            # The running nginx kept its configuration: make the file say so again.
            self.restore(previous)
            raise ProxyError(
                f"{exc} The file is restored.", read_back=self.read_back_through_proxy()
            ) from None
        try:
            cutover_ms = wait_for_color(
                self.probe_url,
                to,
                self.proxy.verify_timeout_seconds,
                started,
                fresh_confirmations=RELOAD_CONFIRMATIONS,
            )
        except ProxyError as exc:
            raise ProxyError(str(exc), read_back=self.read_back_through_proxy()) from None
        return SwitchResult(to, cutover_ms, True, f"nginx reloaded and routes to {to}")

    def set_canary(self, canary: Canary | None) -> None:
        live = self.refuse_canary_for_live(canary)
        # The files name the live colour and the split; a reload applies both together.
        previous = self.files_now()
        self.write_files(live, canary)
        try:
            run_command(self.proxy.reload_command, "reload")
        except ProxyError as exc:
            self.restore(previous)
            raise ProxyError(f"{exc} The files are restored.", read_back=self.read_back()) from None
        self.wait_for_canary(canary)

    def wait_for_canary(self, canary: Canary | None) -> None:
        # `nginx -s reload` returns before the new workers take requests, and the old ones accept
        # for a moment after: the weight counts as applied once several read-backs in a row (each
        # on a new connection, through the proxy) answer it.
        timeout = self.proxy.verify_timeout_seconds
        deadline = time.monotonic() + timeout
        in_a_row = 0
        while True:
            seen = self.read_back()
            in_a_row = in_a_row + 1 if seen.canary == canary else 0
            if in_a_row >= RELOAD_CONFIRMATIONS or time.monotonic() >= deadline:
                break
            if not in_a_row:
                time.sleep(0.05)
        if in_a_row < RELOAD_CONFIRMATIONS:
            raise ProxyError(
                f"nginx was reloaded but still answers as if {seen.describe()} after "
                f"{timeout:.0f} s: check its error log.",
                read_back=seen,
            )

    def read_back(self) -> ReadBack:
        return self.read_back_through_proxy()  # no admin endpoint: the proxy's answer says it

    def current(self) -> Color | None:
        seen = self.read_back()
        return seen.color if seen.answered else self.persisted()  # unanswered: trust the file

    def write_files(self, live: Color | None, canary: Canary | None = None) -> tuple[str, ...]:
        """The includes with the traffic counters, and again without them if nginx has no Lua
        module."""
        try:
            return self.write_rendered(live, canary, counting=True)
        except ProxyError as exc:
            if not lua_unavailable(str(exc)):
                raise
        return self.write_rendered(live, canary, counting=False)

    def counting(self) -> bool:
        """Unless `nginx -t` refused the Lua (the http include then says so)."""
        try:
            return NO_LUA_MARKER not in self.http_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return True

    def running_problems(self, persisted: Color | None, canary: Canary | None) -> list[str]:
        counted = self.sessions is not None and self.sessions.count_cookie
        return [NO_LUA_COUNT] if counted and not self.counting() else []

    def traffic(self) -> TrafficSnapshot | None:
        if not self.counting():
            return TrafficSnapshot(time.time(), {}, note=NO_LUA_NOTE)
        return self.admin.traffic()
