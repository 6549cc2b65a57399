"""nginx: bluegreen owns two include files; the live and reload modes are two drivers on this base.

The operator's nginx.conf stays theirs; it includes `bluegreen-http.conf` in `http {}` and
`bluegreen-location.conf` in the location that serves the service (see `snippet()`; `bluegreen
proxy install` writes both). The text of both lives in nginx/render.py.

What both modes share is here: the files (rendered, validated with `nginx -t`, put back when
refused), what they record (`persisted`, `persisted_canary`), `check`, the snippet, and a
read-back through the proxy itself (its colour header). How a change reaches the running nginx
differs: nginx/live.py sets a Lua shared dict through the admin endpoint (no reload), and
nginx/reload.py rewrites the files and reloads.

Crash safety: a change rewrites each file in one atomic rename, so a file always routes wholly to
one colour.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from console.core.config.proxy import NginxProxyConfig
from console.core.config.schema import Config
from console.core.contracts.proxy import (
    NO_LIVE_TEXT,
    UNANSWERED,
    ProxyError,
    ReadBack,
    SwitchResult,
)
from console.core.contracts.sessions import KeptSessions
from console.core.fsutil import StateDirError, atomic_write
from console.core.holds import MaintenancePage
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import Canary, Color
from console.core.timeouts import PROXY_READ_BACK_SECONDS
from console.drivers.proxy.command import run_command
from console.drivers.proxy.kept_text import KeptText
from console.drivers.proxy.maintenance import persisted_page
from console.drivers.proxy.nginx.admin import TOKEN_FILE, NginxAdmin
from console.drivers.proxy.nginx.maintenance import apply_maintenance, with_location_block
from console.drivers.proxy.nginx.naming import named
from console.drivers.proxy.nginx.render import (
    HTTP_FILE,
    LOCATION_FILE,
    NginxLayout,
    parse_persisted,
    render_http_conf,
    render_location_conf,
)
from console.drivers.proxy.nginx.routes import (
    CANARY_HEADER,
    PROBE_HEADER,
    parse_canary_value,
    parse_persisted_canary,
    picks_per_request,
    preview_snippet,
)
from console.drivers.proxy.nginx.sessions import SessionRendering
from console.drivers.proxy.nginx.sessions_reload import active, read_rule
from console.drivers.proxy.nginx.snippet import render_snippet
from console.drivers.proxy.probe import color_of, probe_client
from console.drivers.proxy.routes import Routes

__all__ = ["HTTP_FILE", "LOCATION_FILE", "TOKEN_FILE", "NginxDriver", "render_location_conf"]

FILE_MODE = 0o644  # nginx's master reads it; it holds no secret
SECRET_FILE_MODE = 0o640  # the http include when it carries the admin token (root's master reads)


def nginx_section(config: Config) -> NginxProxyConfig:
    """`[proxy]` as nginx reads it; ProxyError if it is another kind's."""
    if not isinstance(config.proxy, NginxProxyConfig):
        raise ProxyError(
            f'The nginx driver was given [proxy] kind = "{config.proxy.kind}": set kind = "nginx".'
        )
    return config.proxy


class NginxDriver(ABC):
    """What the nginx drivers share; `NginxLiveDriver` and `NginxReloadDriver` add how a change
    reaches the running nginx (install, switch, set_canary, read_back, current)."""

    mode: ClassVar[Literal["live", "reload"]]

    def __init__(self, config: Config) -> None:
        proxy = nginx_section(config)
        self.proxy = proxy
        self.name = f"nginx ({self.mode})"
        self.include_dir = Path(proxy.include_dir)
        self.http_path = self.include_dir / HTTP_FILE
        self.http_text = KeptText(self.http_path)  # read every second by the agent
        self.location_path = self.include_dir / LOCATION_FILE
        self.admin_socket = config.admin_socket_path
        self.blue_port = config.slot("blue").host_port
        self.green_port = config.slot("green").host_port
        tcp = urlsplit(proxy.admin_url) if proxy.admin_url else None
        self.admin_tcp = f"{tcp.hostname}:{tcp.port}" if tcp else ""
        self.admin = NginxAdmin(
            self.admin_socket, self.admin_tcp, Path(config.state_dir) / TOKEN_FILE
        )
        self.admin_where = self.admin.where
        self.probe_url = proxy.proxy_url.rstrip("/") + proxy.probe_path
        self.client_url = self.probe_url  # the same path, asked as a client (no probe header)
        self.routes = Routes.of(proxy)
        # Files this driver rewrote that the running nginx has not loaded yet: `proxy install
        # --reload` writes them first, then installs, which must still reload.
        self.unapplied = False
        # [sessions]: a Lua dict entry in live mode (nginx/sessions), maps in reload mode
        # (nginx/sessions_reload).
        self.sessions = SessionRendering.of(config.sessions)
        # Live mode in front of a Swarm: a colour is its replicas' endpoints (nginx/peers).
        self.peers = self.mode == "live" and config.runtime.kind == "swarm"

    # ── what each mode says for itself ──────────────────────────────────────────────────────────

    @abstractmethod
    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        """See ProxyDriver."""

    @abstractmethod
    def switch(self, to: Color) -> SwitchResult:
        """See ProxyDriver."""

    @abstractmethod
    def set_canary(self, canary: Canary | None) -> None:
        """See ProxyDriver."""

    @abstractmethod
    def read_back(self) -> ReadBack:
        """See ProxyDriver."""

    @abstractmethod
    def current(self) -> Color | None:
        """See ProxyDriver."""

    def counting(self) -> bool:
        """Whether the includes count traffic (rendered with the Lua counters)."""
        return True

    def running_problems(self, persisted: Color | None, canary: Canary | None) -> list[str]:
        """`check`'s look at the running nginx against what the files record."""
        return []

    # ── shared ──────────────────────────────────────────────────────────────────────────────────

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
            name=self.proxy.prefix,
            maintenance=self.maintenance_page() is not None,
            sessions=self.sessions,
            peers=self.peers,
            kept=self.sessions_rule(),
        )

    def sessions_rule(self) -> KeptSessions | None:
        """Reload mode: the sessions rule the files render (nginx/sessions_reload)."""
        if self.mode != "reload" or self.sessions is None:
            return None
        return read_rule(self.include_dir)

    def location_conf(
        self, live: Color | None, canary: Canary | None, counting: bool | None = None
    ) -> str:
        kept = active(self.sessions_rule(), live)  # reload mode: sessions kept on the old colour
        per_colour = picks_per_request(self.routes, live, canary) or kept is not None
        counting = self.counting() if counting is None else counting
        text = render_location_conf(
            self.mode, self.routes, per_colour, counting, self.proxy.prefix, self.sessions
        )
        return with_location_block(text, self.maintenance_page(), self.proxy.prefix)

    def traffic(self) -> TrafficSnapshot | None:
        return self.admin.traffic()

    def persisted(self) -> Color | None:
        try:
            return self.http_text.parsed(parse_persisted)
        except (OSError, UnicodeDecodeError):
            return None

    def persisted_canary(self) -> Canary | None:
        try:
            return self.http_text.parsed(parse_persisted_canary)
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
            self.location_path: self.location_conf(persisted, canary),
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
            run_command(self.proxy.test_command, "test")
        except ProxyError as exc:
            problems.append(str(exc))
        return problems + self.running_problems(persisted, canary)

    def snippet(self) -> str:
        admin_socket = "" if self.admin_tcp else self.admin_socket
        text = render_snippet(
            self.mode, self.http_path, self.location_path, self.include_dir, admin_socket
        )
        return named(text + preview_snippet(self.routes), self.proxy.prefix)

    def install_steps(self) -> str:
        reload = " ".join(self.proxy.reload_command) or "nginx -s reload"
        return self.snippet() + f"\n# Then reload nginx: {reload}\n"

    def maintenance_page(self) -> MaintenancePage | None:
        """The page the includes answer clients with (None: maintenance is off)."""
        return persisted_page(self.include_dir)

    def set_maintenance(self, page: MaintenancePage | None) -> None:
        """See ProxyDriver (nginx/maintenance.py)."""
        apply_maintenance(self, page)

    def refuse_canary_for_live(self, canary: Canary | None) -> Color | None:
        """The live colour a canary goes beside (the running nginx's, else the file's);
        ProxyError when the canary names it, or nothing is live."""
        running = self.read_back()
        live = running.color if running.answered else self.persisted()
        if canary is not None and canary.color in (live, None):
            raise ProxyError(
                f"A canary goes to the idle colour, and {running.describe()}: nothing was changed.",
                read_back=running,
            )
        return live

    # ── files ───────────────────────────────────────────────────────────────────────────────────

    def write_files(self, live: Color | None, canary: Canary | None = None) -> tuple[str, ...]:
        """Render both includes for `live` (and `canary`) and validate; the paths that changed.

        If the test command rejects them, the previous files are put back before ProxyError.
        Usable before nginx runs (the sandbox writes the files, then starts nginx).
        """
        return self.write_rendered(live, canary, counting=True)

    def write_rendered(
        self, live: Color | None, canary: Canary | None, counting: bool
    ) -> tuple[str, ...]:
        layout = self.layout(create_token=True, counting=counting)
        canary = canary if live is not None else None
        wanted = {self.http_path: render_http_conf(layout, live, canary)}
        wanted[self.location_path] = self.location_conf(live, canary, counting)
        previous = {path: read_bytes(path) for path in wanted}
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
            self.write(path, wanted[path])
        # A running nginx has not loaded them yet (one started after this reads them itself).
        self.unapplied = self.unapplied or self.read_back().answered
        self.admin.remove_stale_socket()
        try:
            run_command(self.proxy.test_command, "test")
        except ProxyError as exc:
            self.restore(previous)
            raise ProxyError(f"{exc} The previous files are back in place.") from None
        return tuple(str(p) for p in changed)

    def write(self, path: Path, text: str) -> None:
        mode = SECRET_FILE_MODE if self.admin_tcp and path == self.http_path else FILE_MODE
        try:
            atomic_write(path, text, mode=mode)
        except StateDirError as exc:
            raise ProxyError(str(exc)) from None

    def files_now(self) -> dict[Path, bytes | None]:
        """Both includes as they are, for `restore` (None: absent)."""
        return {path: read_bytes(path) for path in (self.http_path, self.location_path)}

    def restore(self, previous: dict[Path, bytes | None]) -> None:
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

    def reload(self, why: str) -> None:
        try:
            run_command(self.proxy.reload_command, "reload")
            self.unapplied = False
        except ProxyError as exc:
            raise ProxyError(
                f"The files are written and valid, but nginx could not be reloaded to {why} "
                f"them: {exc} Start nginx (or fix proxy.reload_command) and retry."
            ) from None

    def read_back_through_proxy(self) -> ReadBack:
        """What the proxy's own answer says: its colour header, and the canary the reload-mode
        routes answer a probe with (absent: no routes, no canary)."""
        try:
            with probe_client(timeout=PROXY_READ_BACK_SECONDS) as client:
                response = client.get(self.probe_url, headers={PROBE_HEADER: "canary"})
        except httpx.HTTPError:
            return UNANSWERED
        if response.status_code == 503 and NO_LIVE_TEXT in response.text:
            return ReadBack(True, None)
        seen = color_of(response)
        canary = parse_canary_value(response.headers.get(CANARY_HEADER, ""))
        return ReadBack(True, seen, canary) if seen else UNANSWERED


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
