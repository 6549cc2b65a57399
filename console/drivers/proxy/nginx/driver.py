"""nginx: bluegreen owns two include files and switches live (Lua shared dict) or by reload.

The operator's nginx.conf stays theirs; it includes `bluegreen-http.conf` in `http {}` and
`bluegreen-location.conf` in the location that serves the service (see `snippet()`; `bluegreen
proxy install` writes both). The text of both lives in `nginx_render`.

Live mode never reloads to switch: a reload closes idle keep-alive connections, and a client that
sends a POST on one at that moment gets a reset (FACTS.md: 78 failures in 20 reloads). Instead a
`balancer_by_lua_block` reads the colour from a `lua_shared_dict` that the admin endpoint sets —
on a unix socket only operators can reach, or on an opted-in TCP port with a token. The colour is
also rendered into the file as the fallback, so a restart keeps it.

Crash safety: a switch rewrites only `bluegreen-http.conf`, in one atomic rename, so the file always
routes wholly to one colour; the shared dict holds one value, so the running nginx does too.
Truth after an error: a switch request carries an expiry that nginx enforces, so once it has passed
a read-back of the dict is final — a request stuck in a stalled nginx cannot apply later.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from console.core.config.schema import Config
from console.core.contracts.proxy import (
    NO_LIVE_TEXT,
    UNANSWERED,
    ProxyError,
    ReadBack,
    SwitchResult,
)
from console.core.fsutil import StateDirError, atomic_write
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import Canary, Color, other
from console.core.timeouts import PROXY_READ_BACK_SECONDS, PROXY_RELOAD_SETTLE_SECONDS
from console.drivers.proxy.command import run_command
from console.drivers.proxy.nginx import canary as nginx_canary
from console.drivers.proxy.nginx.admin import TOKEN_FILE, NginxAdmin
from console.drivers.proxy.nginx.render import (
    HTTP_FILE,
    LOCATION_FILE,
    NOTHING_LIVE,
    NginxLayout,
    parse_persisted,
    render_http_conf,
    render_location_conf,
    render_snippet,
)
from console.drivers.proxy.nginx.routes import (
    CANARY_HEADER,
    PROBE_HEADER,
    Routes,
    parse_canary_value,
    parse_persisted_canary,
    picks_per_request,
    preview_snippet,
)
from console.drivers.proxy.nginx.traffic import NO_LUA_MARKER, NO_LUA_NOTE, lua_unavailable
from console.drivers.proxy.probe import RELOAD_CONFIRMATIONS, color_of, probe_client, wait_for_color

__all__ = ["HTTP_FILE", "LOCATION_FILE", "TOKEN_FILE", "NginxDriver", "render_location_conf"]

FILE_MODE = 0o644  # nginx's master reads it; it holds no secret
SECRET_FILE_MODE = 0o640  # the http include when it carries the admin token (root's master reads)


class NginxDriver:
    """`ProxyDriver` for nginx, live (Lua) or reload mode, from `[proxy]` and the slot ports."""

    def __init__(self, config: Config) -> None:
        self._proxy = config.proxy
        self.name = f"nginx ({config.proxy.mode})"
        self.mode = config.proxy.mode
        self.include_dir = Path(config.proxy.include_dir)
        self.http_path = self.include_dir / HTTP_FILE
        self.location_path = self.include_dir / LOCATION_FILE
        self.admin_socket = config.admin_socket_path
        self.blue_port = config.slot("blue").host_port
        self.green_port = config.slot("green").host_port
        tcp = urlsplit(config.proxy.admin_url) if config.proxy.admin_url else None
        self.admin_tcp = f"{tcp.hostname}:{tcp.port}" if tcp else ""
        self.admin = NginxAdmin(
            self.admin_socket, self.admin_tcp, Path(config.state_dir) / TOKEN_FILE
        )
        self.admin_where = self.admin.where
        self._probe_url = config.proxy.proxy_url.rstrip("/") + config.proxy.probe_path
        proxy = config.proxy
        self.routes = Routes(
            proxy.preview, proxy.preview_header, proxy.preview_cookie, proxy.canary_cookie
        )

    def layout(self, create_token: bool = False, counting: bool | None = None) -> NginxLayout:
        return NginxLayout(
            counting=self.counting() if counting is None else counting,
            mode=self.mode,
            blue_port=self.blue_port,
            green_port=self.green_port,
            admin_socket=self.admin_socket,
            admin_tcp=self.admin_tcp,
            token=self.admin.token(create_token) if self.admin_tcp else "",
            routes=self.routes,
        )

    def _location_conf(
        self, live: Color | None, canary: Canary | None, counting: bool | None = None
    ) -> str:
        per_colour = picks_per_request(self.routes, live, canary)
        counting = self.counting() if counting is None else counting
        return render_location_conf(self.mode, self.routes, per_colour, counting)

    # ── the contract ────────────────────────────────────────────────────────────────────────────

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        canary = canary if live is not None else None
        had_canary = self.persisted_canary() is not None
        written = self.write_files(live, canary)
        if self.mode == "reload":
            if written:
                self._reload("install")
                if canary is not None or had_canary:  # the reload returns before it applies
                    nginx_canary.wait_for_canary(self, canary)
            return
        if written or not self.admin.read_back().answered:
            self._reload("install")
            self.admin.wait(PROXY_RELOAD_SETTLE_SECONDS, self.http_path)
        self.admin.set(live or NOTHING_LIVE, canary)

    def set_canary(self, canary: Canary | None) -> None:
        nginx_canary.set_canary(self, canary)

    def persisted_canary(self) -> Canary | None:
        return nginx_canary.persisted_canary(self.http_path)

    def traffic(self) -> TrafficSnapshot | None:
        if self.mode == "reload" and not self.counting():
            return TrafficSnapshot(time.time(), {}, note=NO_LUA_NOTE)
        return self.admin.traffic()

    def counting(self) -> bool:
        """Whether the includes count traffic: always in live mode; in reload mode unless
        `nginx -t` refused the Lua (the http include then says so)."""
        if self.mode == "live":
            return True
        try:
            return NO_LUA_MARKER not in self.http_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return True

    def switch(self, to: Color) -> SwitchResult:
        if self.mode == "reload":
            return self._switch_by_reload(to)
        before = self.admin.read_back()
        if not before.answered:
            raise ProxyError(
                f"The nginx admin endpoint {self.admin_where} did not answer within "
                f"{PROXY_READ_BACK_SECONDS:.0f} s, so no switch was sent: check that nginx runs "
                "with the bluegreen include (`bluegreen proxy install`) and that you may act.",
                read_back=self._read_back_through_proxy(),
            )
        started = time.perf_counter()
        self.admin.set(to)  # the switch itself: every worker's next balancer call sees it
        detail = f"nginx now routes to {to} (live, no reload)"
        try:
            cutover_ms = wait_for_color(
                self._probe_url, to, self._proxy.verify_timeout_seconds, started
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
            self._write(self.http_path, render_http_conf(self.layout(), to))
        except ProxyError as exc:
            # Traffic has moved already; say so rather than fail, `check` shows the drift.
            detail += f", but the file still says {other(to)}: {exc}"
        return SwitchResult(to, cutover_ms, True, detail)

    def read_back(self) -> ReadBack:
        if self.mode == "reload":
            return self._read_back_through_proxy()
        # The dict, else what the proxy itself answers with: an unreachable admin socket (or one
        # this user may not open) must not leave the truth unknown while nginx serves. Its canary
        # then is the best known: the file's.
        seen = self.admin.read_back()
        if seen.answered:
            return seen
        seen = self._read_back_through_proxy()
        canary = self.persisted_canary() if seen.color else None
        return ReadBack(True, seen.color, canary) if seen.answered else seen

    def current(self) -> Color | None:
        seen = self.read_back()
        if self.mode == "reload" and not seen.answered:
            return self.persisted()  # no admin endpoint: trust the file
        return seen.color

    def persisted(self) -> Color | None:
        try:
            return parse_persisted(self.http_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    def check(self) -> list[str]:
        problems: list[str] = []
        try:
            text = self.http_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return [f"{self.http_path} is missing: run `bluegreen proxy install`."]
        persisted = parse_persisted(text)
        canary = parse_persisted_canary(text)
        expected = {
            self.http_path: render_http_conf(self.layout(), persisted, canary),
            self.location_path: self._location_conf(persisted, canary),
        }
        for path, wanted in expected.items():
            try:
                if path.read_text(encoding="utf-8") != wanted:
                    problems.append(
                        f"{path} differs from what bluegreen renders (edited by hand, or the "
                        "ports, mode or admin endpoint changed): run `bluegreen proxy install`."
                    )
            except (OSError, UnicodeDecodeError):
                problems.append(f"{path} cannot be read: run `bluegreen proxy install`.")
        try:
            run_command(self._proxy.test_command, "test")
        except ProxyError as exc:
            problems.append(str(exc))
        if self.mode == "live":
            running = self.admin.read_back()
            if not running.answered:
                problems.append(
                    f"The nginx admin endpoint {self.admin_where} does not answer: add the "
                    "include lines from `bluegreen proxy install` to nginx and reload it."
                )
            elif running.color != persisted:
                problems.append(
                    f"nginx routes to {running.color or 'nothing'} but {HTTP_FILE} says "
                    f"{persisted or 'nothing'}: run reconcile."
                )
            elif running.canary != canary:
                problems.append(
                    f"nginx sends {running.canary.describe() if running.canary else 'no canary'} "
                    f"but {HTTP_FILE} records "
                    f"{canary.describe() if canary else 'none'}: run reconcile."
                )
        return problems

    def snippet(self) -> str:
        admin_socket = "" if self.admin_tcp else self.admin_socket
        text = render_snippet(
            self.mode, self.http_path, self.location_path, self.include_dir, admin_socket
        )
        return text + preview_snippet(self.routes)

    def install_steps(self) -> str:
        reload = " ".join(self._proxy.reload_command) or "nginx -s reload"
        return self.snippet() + f"\n# Then reload nginx: {reload}\n"

    # ── files ───────────────────────────────────────────────────────────────────────────────────

    def write_files(self, live: Color | None, canary: Canary | None = None) -> tuple[str, ...]:
        """Render both includes for `live` (and `canary`) and validate; the paths that changed.

        If the test command rejects them, the previous files are put back before ProxyError.
        Usable before nginx runs (the sandbox writes the files, then starts nginx). Reload mode
        renders the traffic counters, and again without them if nginx has no Lua module.
        """
        try:
            return self._write_files(live, canary, counting=True)
        except ProxyError as exc:
            if self.mode == "live" or not lua_unavailable(str(exc)):
                raise
        return self._write_files(live, canary, counting=False)

    def _write_files(
        self, live: Color | None, canary: Canary | None, counting: bool
    ) -> tuple[str, ...]:
        layout = self.layout(create_token=True, counting=counting)
        canary = canary if live is not None else None
        wanted = {self.http_path: render_http_conf(layout, live, canary)}
        wanted[self.location_path] = self._location_conf(live, canary, counting)
        previous = {path: _read_bytes(path) for path in wanted}
        changed = [p for p, text in wanted.items() if previous[p] != text.encode("utf-8")]
        if not changed:
            return ()
        try:
            self.include_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise ProxyError(
                f"Cannot create {self.include_dir} ({exc.strerror}): fix proxy.include_dir."
            ) from None
        if not self.admin_tcp:
            # nginx's master creates the socket, but only in an existing directory.
            with contextlib.suppress(OSError):
                Path(self.admin_socket).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in changed:
            self._write(path, wanted[path])
        self.admin.remove_stale_socket()
        try:
            run_command(self._proxy.test_command, "test")
        except ProxyError as exc:
            self._restore(previous)
            raise ProxyError(f"{exc} The previous files are back in place.") from None
        return tuple(str(p) for p in changed)

    def _write(self, path: Path, text: str) -> None:
        mode = SECRET_FILE_MODE if self.admin_tcp and path == self.http_path else FILE_MODE
        try:
            atomic_write(path, text, mode=mode)
        except StateDirError as exc:
            raise ProxyError(str(exc)) from None

    def _restore(self, previous: dict[Path, bytes | None]) -> None:
        try:
            for path, data in previous.items():
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write(path, data, mode=FILE_MODE)
        except (OSError, StateDirError) as exc:
            raise ProxyError(
                f"Could not put the previous {path.name} back ({exc}): run install again."
            ) from None

    # ── reload mode ─────────────────────────────────────────────────────────────────────────────

    def _switch_by_reload(self, to: Color) -> SwitchResult:
        previous = {p: _read_bytes(p) for p in (self.http_path, self.location_path)}
        self.write_files(to)  # validated; restored by write_files itself if nginx -t fails
        started = time.perf_counter()
        try:
            run_command(self._proxy.reload_command, "reload")
        except ProxyError as exc:
            # The running nginx kept its configuration: make the file say so again.
            self._restore(previous)
            raise ProxyError(
                f"{exc} The file is restored.", read_back=self._read_back_through_proxy()
            ) from None
        try:
            cutover_ms = wait_for_color(
                self._probe_url,
                to,
                self._proxy.verify_timeout_seconds,
                started,
                fresh_confirmations=RELOAD_CONFIRMATIONS,
            )
        except ProxyError as exc:
            raise ProxyError(str(exc), read_back=self._read_back_through_proxy()) from None
        return SwitchResult(to, cutover_ms, True, f"nginx reloaded and routes to {to}")

    def _read_back_through_proxy(self) -> ReadBack:
        # Reload mode has no admin endpoint: the colour header of the proxy's own answer says it.
        try:
            with probe_client(timeout=PROXY_READ_BACK_SECONDS) as client:
                response = client.get(self._probe_url, headers={PROBE_HEADER: "canary"})
        except httpx.HTTPError:
            return UNANSWERED
        if response.status_code == 503 and NO_LIVE_TEXT in response.text:
            return ReadBack(True, None)
        seen = color_of(response)
        # Reload mode's routes answer the canary they apply (absent: no routes, no canary).
        canary = parse_canary_value(response.headers.get(CANARY_HEADER, ""))
        return ReadBack(True, seen, canary) if seen else UNANSWERED

    def _reload(self, why: str) -> None:
        try:
            run_command(self._proxy.reload_command, "reload")
        except ProxyError as exc:
            raise ProxyError(
                f"The files are written and valid, but nginx could not be reloaded to {why} "
                f"them: {exc} Start nginx (or fix proxy.reload_command) and retry."
            ) from None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
