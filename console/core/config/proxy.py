"""`[proxy]`: a union tagged by `kind`, one frozen dataclass per proxy.

Each kind's fields are exactly the keys it accepts (config/coerce.py refuses another kind's key
with a sentence naming it), and what differs between proxies is declared here once per kind, as a
capability the rest of the house asks for — never a `kind ==` branch elsewhere:

- `describe()`: the proxy as `config check` names it;
- `driver_key`: the row of console.drivers.proxy.DRIVERS that drives it;
- `admin_socket_path(state_dir, watchers)`: the admin socket, its default filled in;
- `measures_latency_percentiles`: whether its traffic figures have p50/p99 ([analysis] limits);
- `problems(admin_socket)`: what is wrong with its keys, one phrase each;
- `agent_writes()`: what the agent writes for it besides its state dir (the systemd unit).

Adding a proxy: one dataclass here and a member of `ProxyConfig`, one driver module and its row.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from console.core.config.edges import EdgeConfig
from console.core.config.routes import route_problems

HAPROXY_DEFAULT_SOCKET = "/run/haproxy/admin.sock"
NGINX_ADMIN_SOCKET = "nginx-admin.sock"  # in the state dir, which bluegreen owns
DEFAULT_PROXY_NAME = "bluegreen"  # `[proxy] name` left empty: one service in the proxy
# nginx variables and Lua's `ngx.shared.NAME` take letters, digits and _ (not first a digit).
_PROXY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_UNIX_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL


@dataclass(frozen=True)
class ProxyBase:
    """The keys every proxy has."""

    # bluegreen owns the files in here (nginx's includes; HAProxy's backend, state and map).
    include_dir: str = "/etc/nginx/bluegreen"
    # How the proxy knows this service: the prefix of its upstreams, maps and variables, unique
    # per service in one nginx. "" = "bluegreen" (one service); a fleet names each service's.
    name: str = ""
    proxy_url: str = "http://127.0.0.1:80"
    probe_path: str = "/health"
    verify_timeout_seconds: float = 10.0
    # Preview and canary routes (console/core/config/routes.py checks them): off by default.
    preview: bool = False  # a request naming a colour in this header or cookie goes there
    preview_header: str = "X-Bluegreen-Preview"
    preview_cookie: str = "bluegreen_preview"
    canary_cookie: str = "bluegreen_canary"  # the canary hashes it (else the client address)
    # [[proxy.edges]]: more proxies (this kind unless one says `kind`), all or none (edges.py).
    edges: list[EdgeConfig] = field(default_factory=list)

    measures_latency_percentiles: ClassVar[bool] = True
    title: ClassVar[str] = ""  # the proxy's own name in sentences

    @property
    def prefix(self) -> str:
        """The name this service's upstreams, maps, variables and counters carry in the proxy."""
        return self.name or DEFAULT_PROXY_NAME

    def problems(self, admin_socket: str) -> list[str]:
        """What is wrong with these keys, one phrase each (config/checks.py joins them);
        `admin_socket`: the socket path with its default filled in."""
        return self._name_problems() + self._socket_problems(admin_socket) + self._route_problems()

    def _name_problems(self) -> list[str]:
        if not self.name or _PROXY_NAME.fullmatch(self.name):
            return []
        return [
            f"proxy.name '{self.name}' cannot name things in the proxy: use letters, digits and _ "
            "(at most 64, not starting with a digit), e.g. bluegreen_api, or leave it empty for "
            f"{DEFAULT_PROXY_NAME}"
        ]

    def _socket_problems(self, admin_socket: str) -> list[str]:
        if len(os.fsencode(admin_socket)) <= _UNIX_PATH_MAX:
            return []
        return [
            f"the proxy admin socket path {admin_socket} is longer than {_UNIX_PATH_MAX} bytes, "
            "which unix sockets cannot have: set proxy.admin_socket to a shorter path in a "
            "directory bluegreen owns"
        ]

    def _route_problems(self) -> list[str]:
        return route_problems(self.preview_header, self.preview_cookie, self.canary_cookie)

    @property
    def routes_sessions(self) -> bool:
        """Whether bluegreen can keep sessions on their colour through it ([sessions])."""
        return False

    def agent_writes(self) -> list[str]:
        """Paths the agent writes for this proxy besides its state dir and /run, for the
        systemd unit's ReadWritePaths ("-" = fine if absent)."""
        return []


@dataclass(frozen=True)
class NginxProxyConfig(ProxyBase):
    kind: Literal["nginx"] = "nginx"
    mode: Literal["live", "reload"] = "live"
    # Live mode: the admin endpoint's unix socket ("" = state_dir/nginx-admin.sock).
    admin_socket: str = ""
    # Live mode, opt-in only: a TCP admin endpoint (e.g. "http://127.0.0.1:8099") that requires
    # the generated token. "" = the unix socket only (the default).
    admin_url: str = ""
    test_command: list[str] = field(default_factory=lambda: ["nginx", "-t"])
    reload_command: list[str] = field(default_factory=lambda: ["nginx", "-s", "reload"])

    title: ClassVar[str] = "nginx"

    def describe(self) -> str:
        return f"nginx ({self.mode})"

    @property
    def driver_key(self) -> str:
        return f"nginx-{self.mode}"

    @property
    def routes_sessions(self) -> bool:
        return True  # a Lua dict entry in live mode, maps and a reload in reload mode

    def admin_socket_path(self, state_dir: str, watchers: bool) -> str:
        if self.admin_socket:
            return self.admin_socket
        if watchers:  # watchers may enter the state dir; nginx makes its socket 0666
            return str(Path(state_dir) / "admin" / NGINX_ADMIN_SOCKET)
        return str(Path(state_dir) / NGINX_ADMIN_SOCKET)

    def problems(self, admin_socket: str) -> list[str]:
        problems = self._name_problems()
        if not self.include_dir:
            problems.append(
                "proxy.include_dir is empty: name the directory bluegreen owns in nginx"
            )
        problems += self._socket_problems(admin_socket)
        url = self.admin_url
        if url and not re.fullmatch(r"http://[^/:]+:\d{1,5}/?", url):
            problems.append(
                f"proxy.admin_url '{url}' must look like http://127.0.0.1:8099 (or be empty to "
                "use the unix socket)"
            )
        return problems + self._route_problems()

    def agent_writes(self) -> list[str]:
        # Reconcile rewrites a stale include; `nginx -t` opens nginx's logs.
        return ["-" + str(Path(self.include_dir).resolve()), "-/var/log/nginx"]


@dataclass(frozen=True)
class HaproxyProxyConfig(ProxyBase):
    kind: Literal["haproxy"] = "haproxy"
    # The runtime API socket ("" = /run/haproxy/admin.sock).
    admin_socket: str = ""
    backend: str = "bluegreen"  # the backend holding servers named blue and green
    test_command: list[str] = field(default_factory=list)  # e.g. ["haproxy", "-c", "-f", …]
    # Only maintenance mode needs it (a rule HAProxy reads at load), e.g. ["systemctl", "reload",
    # "haproxy"]; switches and canaries go through the runtime API.
    reload_command: list[str] = field(default_factory=list)

    measures_latency_percentiles: ClassVar[bool] = False  # `show stat` has means, no p99
    title: ClassVar[str] = "HAProxy"

    def describe(self) -> str:
        return "haproxy (runtime API)"

    @property
    def routes_sessions(self) -> bool:
        return True  # a map and a use-server rule (haproxy/sessions.py)

    @property
    def driver_key(self) -> str:
        return "haproxy"

    def admin_socket_path(self, state_dir: str, watchers: bool) -> str:
        return self.admin_socket or HAPROXY_DEFAULT_SOCKET


ProxyConfig = NginxProxyConfig | HaproxyProxyConfig
