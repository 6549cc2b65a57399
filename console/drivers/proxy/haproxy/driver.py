"""HAProxy: switch through the runtime API on the admin socket, never a reload.

The backend holds two servers named `blue` and `green`; a switch is one runtime-API line,
`set server be/<new> state ready; set server be/<old> state drain`, which HAProxy runs back to back,
so requests never find no server and a crash of ours cannot leave half of it applied.
HAProxy forgets runtime changes on restart: the live colour is persisted in
`include_dir/bluegreen-haproxy.state`, the rendered backend marks the other server `disabled`, and
`install(persisted)` (reconcile) re-applies it. `bluegreen proxy install` writes the backend
section to `include_dir/bluegreen-haproxy.cfg`, a file HAProxy loads with a second `-f` (its text,
and what `show servers state` says, in haproxy/backend.py). Before anything is live both servers
are in maintenance and the backend answers 503.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from console.core.config.proxy import HaproxyProxyConfig
from console.core.config.schema import Config
from console.core.contracts.proxy import (
    UNANSWERED,
    ProxyError,
    ReadBack,
    SwitchResult,
)
from console.core.fsutil import StateDirError, atomic_write
from console.core.holds import MaintenancePage
from console.core.measures.traffic import TrafficSnapshot
from console.core.model import COLORS, Canary, Color, other
from console.core.timeouts import PROXY_ADMIN_SECONDS, PROXY_READ_BACK_SECONDS
from console.drivers.proxy.command import run_command
from console.drivers.proxy.haproxy.backend import (
    parse_servers_state,
    render_backend,
    routed_color,
    routing,
)
from console.drivers.proxy.haproxy.maintenance import apply_maintenance, page_path, with_rule
from console.drivers.proxy.haproxy.replicas import HaproxyReplicas
from console.drivers.proxy.haproxy.routes import (
    MAP_FILE,
    parse_map_file,
    parse_show_map,
    preview_snippet,
    render_map,
    set_map_command,
)
from console.drivers.proxy.haproxy.sessions import HaproxySessions
from console.drivers.proxy.haproxy.traffic import NO_PERCENTILES_NOTE, STAT_COMMAND, parse_show_stat
from console.drivers.proxy.haproxy.transport import connect
from console.drivers.proxy.maintenance import persisted_page
from console.drivers.proxy.probe import wait_for_color
from console.drivers.proxy.routes import Routes

STATE_FILE = "bluegreen-haproxy.state"
BACKEND_FILE = "bluegreen-haproxy.cfg"
_NGINX_TEST = ["nginx", "-t"]  # nginx's default, kept from a template: meaningless here


class HaproxyDriver(HaproxyReplicas, HaproxySessions):
    """`ProxyDriver` for HAProxy's runtime API."""

    def __init__(self, config: Config) -> None:
        if not isinstance(config.proxy, HaproxyProxyConfig):
            raise ProxyError(
                f'The HAProxy driver was given [proxy] kind = "{config.proxy.kind}": set '
                'kind = "haproxy".'
            )
        proxy = self._proxy = config.proxy
        self.name = "haproxy (runtime API)"
        self.backend = proxy.backend
        self.socket_path = config.admin_socket_path
        self.state_path = Path(proxy.include_dir) / STATE_FILE
        self.backend_path = Path(proxy.include_dir) / BACKEND_FILE
        self.blue_port = config.slot("blue").host_port
        self.green_port = config.slot("green").host_port
        self._probe_url = proxy.proxy_url.rstrip("/") + proxy.probe_path
        self.client_url, self.proxy = self._probe_url, proxy
        self.routes = Routes.of(proxy)
        self.map_path = Path(proxy.include_dir).absolute() / MAP_FILE
        self.setup_sessions(config)
        self.setup_replicas(config)  # a Swarm: each colour a section of replicas (PeerRouting)

    def _render(self, live: Color | None) -> str:
        rules = self.sessions_rules()  # [sessions] (haproxy/sessions)
        ports: dict[Color, int] = {"blue": self.blue_port, "green": self.green_port}
        text = render_backend(
            self.backend,
            self.blue_port,
            self.green_port,
            live,
            self.routes,
            self.map_path,
            rules,
            self.replica_targets(),
        )
        page = persisted_page(self.backend_path.parent)
        tables = self.sessions_tables() + self.replica_sections(ports)
        return with_rule(text, page, page_path(self)) + tables

    def set_maintenance(self, page: MaintenancePage | None) -> None:
        apply_maintenance(self, page)  # see ProxyDriver (haproxy/maintenance.py)

    def install(self, live: Color | None, canary: Canary | None = None) -> None:
        canary = canary if live is not None else None
        self._apply(live, canary)
        self._persist(live)
        self._persist_canary(canary)

    def set_canary(self, canary: Canary | None) -> None:
        seen = self.read_back()
        if canary is not None and (not seen.answered or seen.color in (None, canary.color)):
            raise ProxyError(
                f"A canary goes to the idle colour, and {seen.describe()}: nothing was changed.",
                read_back=seen,
            )
        try:
            answer = self.runtime(set_map_command(self.map_path, canary))
        except ProxyError as exc:
            raise ProxyError(str(exc), read_back=self._settled_read_back()) from None
        if answer.strip():
            raise ProxyError(
                f"HAProxy refused the canary ({answer.strip().splitlines()[0]}): add the "
                "backend from `bluegreen proxy snippet` (it loads the canary map) and restart.",
                read_back=self.read_back(),
            )
        self._persist_canary(canary)

    def persisted_canary(self) -> Canary | None:
        try:
            return parse_map_file(self.map_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None

    def _persist_canary(self, canary: Canary | None) -> None:
        try:
            self.map_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.map_path, render_map(canary), mode=0o644)
        except (OSError, StateDirError) as exc:
            raise ProxyError(f"Cannot persist the canary in {self.map_path}: {exc}") from None

    def write_files(self, live: Color | None, canary: Canary | None = None) -> tuple[str, ...]:
        wanted = self._render(live)
        try:
            before = self.backend_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            before = None
        written: list[str] = []
        if before != wanted:
            try:
                self.backend_path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.backend_path, wanted, mode=0o644)
            except (OSError, StateDirError) as exc:
                raise ProxyError(f"Cannot write {self.backend_path}: {exc}") from None
            written.append(str(self.backend_path))
        if self.persisted() != live or not self.state_path.exists():
            self._persist(live)
            written.append(str(self.state_path))
        canary = canary if live is not None else None
        if self.persisted_canary() != canary or not self.map_path.exists():
            self._persist_canary(canary)
            written.append(str(self.map_path))
        if self._proxy.test_command and self._proxy.test_command != _NGINX_TEST:
            run_command(self._proxy.test_command, "test")
        return tuple(written)

    def switch(self, to: Color) -> SwitchResult:
        try:
            before = routing(self._servers_state(PROXY_READ_BACK_SECONDS))
        except ProxyError as exc:
            raise ProxyError(f"{exc} No switch was sent.", read_back=UNANSWERED) from None
        started = time.perf_counter()
        try:
            self._apply(to, with_canary=False)  # the canary ends after the probe, below
        except ProxyError as exc:
            raise ProxyError(str(exc), read_back=self._settled_read_back()) from None
        detail = f"HAProxy now routes to {to} (runtime API, no reload)"
        try:
            cutover_ms = wait_for_color(
                self._probe_url, to, self._proxy.verify_timeout_seconds, started
            )
        except ProxyError as exc:
            if before.color != to:  # `to` does not answer: route back to where traffic was
                with contextlib.suppress(ProxyError):
                    self._apply(before.color, before.canary)
            raise ProxyError(f"{exc} Routed back.", read_back=self._settled_read_back()) from None
        # After the probe: the state file's fsync (up to ~50 ms) is not part of the cutover.
        with contextlib.suppress(ProxyError):
            self._apply_canary(None)  # a switch ends any canary
        try:
            self._persist(to)
            self._persist_canary(None)
        except ProxyError as exc:
            detail += f", but {STATE_FILE} still says {other(to)}: {exc}"
        return SwitchResult(to, cutover_ms, True, detail)

    def read_back(self) -> ReadBack:
        try:
            routed = routing(self._servers_state(PROXY_READ_BACK_SECONDS))
            if not routed.answered or routed.color is None:
                return routed
            answer = self.runtime(f"show map {self.map_path}", PROXY_READ_BACK_SECONDS)
        except ProxyError:
            return UNANSWERED
        return ReadBack(True, routed.color, parse_show_map(answer))

    def _settled_read_back(self) -> ReadBack:
        # The runtime API has no expiry for a command stuck in a stalled HAProxy; two equal reads
        # a moment apart, once it answers again, are taken as settled.
        first = self.read_back()
        time.sleep(0.1)
        second = self.read_back()
        return second if first == second else UNANSWERED

    def traffic(self) -> TrafficSnapshot | None:
        # HAProxy counts per server already; the window turns its counters into rates.
        answer = self.runtime(STAT_COMMAND.format(backend=self.backend), PROXY_READ_BACK_SECONDS)
        colours = parse_show_stat(answer, self.backend)
        if not colours:
            raise ProxyError(
                f"HAProxy gave no traffic figures for backend '{self.backend}' (servers blue and "
                "green): add the backend from the snippet or fix proxy.backend."
            )
        return TrafficSnapshot(time.time(), colours, False, NO_PERCENTILES_NOTE)

    def current(self) -> Color | None:
        return self.read_back().color

    def persisted(self) -> Color | None:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        words = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        return next((c for c in COLORS if words and words[-1] == c), None)

    def check(self) -> list[str]:
        problems: list[str] = []
        persisted = self.persisted()
        if persisted is None:
            problems.append(f"{self.state_path} is missing or unreadable: run install.")
        try:
            states = self._servers_state()
        except ProxyError as exc:
            return [*problems, str(exc)]
        missing = [c for c in COLORS if c not in states]
        if missing:
            problems.append(
                f"HAProxy backend '{self.backend}' has no server named {missing[0]}: add the "
                "backend from the snippet and restart HAProxy."
            )
            return problems
        problems += self.replica_problems()
        running = routed_color(states)
        if running is None:
            problems.append(
                f"HAProxy backend '{self.backend}' routes to both colours or to none: run install."
            )
        elif persisted is not None and running != persisted:
            problems.append(f"HAProxy routes to {running} but {STATE_FILE} says {persisted}.")
        return problems

    def backend_section(self) -> str:
        """The backend for the operator's config. HAProxy refuses to start without the canary
        map it loads, so that file is written here if it is missing."""
        if not self.map_path.exists():
            self._persist_canary(None)
        return self._render(self.persisted() or "blue")

    def snippet(self) -> str:
        return (
            "# 1. In the global section (the runtime API bluegreen switches through; with\n"
            "#    operators_group, `mode 660 group GROUP` lets its members switch too):\n"
            f"    stats socket {self.socket_path} mode 600 level admin\n\n"
            "# 2. A backend, used by your frontend (`default_backend "
            f"{self.backend}` or `use_backend`):\n"
            f"{self.backend_section()}\n"
            "# After an HAProxy restart, run `bluegreen reconcile`: runtime changes are not kept,\n"
            f"# the live colour is in {self.state_path}.\n\n"
            f"{preview_snippet(self.routes)}"
        )

    def install_steps(self) -> str:
        return (
            "# 1. In the global section of your haproxy.cfg:\n"
            f"    stats socket {self.socket_path} mode 600 level admin\n\n"
            f"# 2. Load bluegreen's backend with a second -f (it holds backend {self.backend}):\n"
            f"#    haproxy -f /etc/haproxy/haproxy.cfg -f {self.backend_path}\n"
            "#    (Debian: add it to CONFIG in /etc/default/haproxy), and point your frontend at\n"
            f"#    it: default_backend {self.backend}\n\n"
            "# 3. Then restart or reload HAProxy, and run `bluegreen reconcile`.\n"
        )

    # ── runtime API ─────────────────────────────────────────────────────────────────────────────

    def runtime(self, command: str, timeout: float = PROXY_ADMIN_SECONDS) -> str:
        """Send one line to the admin socket and return HAProxy's whole answer."""
        try:
            with connect(self.socket_path, timeout) as sock:  # unix, or TCP (transport.py)
                sock.sendall(command.encode("ascii") + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ProxyError(
                f"Cannot reach the HAProxy runtime API at {self.socket_path} ({reason}): check "
                "that HAProxy runs with `stats socket ... level admin` and proxy.admin_socket."
            ) from None
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _servers_state(self, timeout: float = PROXY_ADMIN_SECONDS) -> dict[str, int]:
        answer = self.runtime(f"show servers state {self.backend}", timeout)
        if "Can't find backend" in answer:
            raise ProxyError(
                f"HAProxy has no backend '{self.backend}': add the backend from the snippet "
                "or fix proxy.backend."
            )
        return parse_servers_state(answer, self.backend)

    def _apply(
        self, live: Color | None, canary: Canary | None = None, with_canary: bool = True
    ) -> None:
        be = self.backend
        if live is None:  # nothing live: both in maintenance, the backend answers 503 itself
            command = f"set server {be}/blue state maint; set server {be}/green state maint"
        else:
            # One line: HAProxy runs both commands back to back (microseconds apart, and no crash
            # of ours can split them); `ready` first so there is never a moment without a server.
            command = (
                f"set server {be}/{live} state ready; set server {be}/{other(live)} state drain"
            )
        answer = self.runtime(command)
        if answer.strip():
            raise ProxyError(
                f"HAProxy refused the switch to {live or 'nothing'} "
                f"({answer.strip().splitlines()[0]}): check that backend '{be}' has servers "
                "named blue and green."
            )
        if with_canary:
            self._apply_canary(canary)

    def _apply_canary(self, canary: Canary | None) -> None:
        # Ended by a switch (after its probe: a stale canary could only name the new live
        # colour, the idle one it was sent to), or set by an install. A backend from before the
        # canary existed has no map: nothing to end there.
        answer = self.runtime(set_map_command(self.map_path, canary))
        if answer.strip() and canary is not None:
            raise ProxyError(
                f"HAProxy refused the canary ({answer.strip().splitlines()[0]}): add the backend "
                "from `bluegreen proxy snippet` (it loads the canary map) and restart HAProxy."
            )

    def _persist(self, live: Color | None) -> None:
        text = f"# bluegreen: the live colour of HAProxy backend {self.backend}\n{live or 'none'}\n"
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.state_path, text, mode=0o644)
        except (OSError, StateDirError) as exc:
            raise ProxyError(f"Cannot persist the live colour: {exc}") from None
