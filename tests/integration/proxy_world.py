"""A real private proxy for each row of console.drivers.proxy.DRIVERS — nginx live, nginx
reload, HAProxy — installed in front of the dummy upstreams (proxy_helpers.upstreams): the world
test_proxy_contract.py and test_proxy_routes.py run every driver in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from console.core.config.proxy import HaproxyProxyConfig, ProxyConfig
from console.core.config.schema import Config
from console.core.config.sessions import NO_SESSIONS
from console.core.contracts.proxy import ProxyDriver
from console.core.model import Color
from console.drivers.proxy import make_proxy
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.nginx_proc import NginxProcess
from tests.integration.proxy_helpers import make_config, nginx_driver, nginx_proxy_config


@dataclass
class Fronted:
    """A real private proxy driven by one row of DRIVERS, in front of the dummy upstreams."""

    row: str  # the DRIVERS key
    driver: ProxyDriver
    config: Config
    listen_port: int
    stop: Callable[[], None]
    start: Callable[[], None]  # after stop; HAProxy's config is rendered again for it
    pids: Callable[[], tuple[int | None, list[int]]]  # master, workers
    error_log: Path | None = None  # nginx's (at notice: a "(SIGHUP) received" line per reload)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    @property
    def reloads(self) -> bool:
        """Whether a switch reloads the proxy (new workers; idle keep-alives dropped)."""
        return self.row == "nginx-reload"

    def restart(self) -> None:
        """Stop and start the proxy process: its runtime state is lost."""
        self.stop()
        self.start()


@contextmanager
def fronted_proxy(
    row: str,
    tmp: Path,
    listen: int,
    sock_dir: Path,
    ports: tuple[int, int],
    live: Color | None = "blue",
    **extra: object,
) -> Iterator[Fronted]:
    """The proxy of DRIVERS row `row` on `listen`, its files written and installed for `live`
    (None: nothing live yet); `extra`: more `[proxy]` keys, and `sessions`: a `[sessions]`
    section. `sock_dir`: a short directory for the admin socket (≤ 107 bytes)."""
    blue, green = ports
    sessions = extra.pop("sessions", NO_SESSIONS)
    if row == "haproxy":
        haproxy = HaproxyProcess(tmp / "haproxy", listen, sock_dir / "admin.sock")
        proxy: ProxyConfig = HaproxyProxyConfig(
            include_dir=str(tmp / "haproxy" / "bluegreen"),
            proxy_url=f"http://127.0.0.1:{listen}",
            admin_socket=str(haproxy.admin_socket),
            **{"verify_timeout_seconds": 3.0, **extra},  # type: ignore[arg-type]
        )
        config = replace(make_config(tmp, blue, green, proxy), sessions=sessions)
        driver = make_proxy(config)
        assert isinstance(driver, HaproxyDriver)

        def start_haproxy() -> None:
            """With the backend rendered for operators (the idle server `disabled`)."""
            haproxy.write_conf(driver.backend_section(), driver.backend)
            haproxy.start()

        world = Fronted(row, driver, config, listen, haproxy.stop, start_haproxy, _pids(haproxy))
    else:
        nginx = NginxProcess(tmp / "nginx", listen, 0, tmp / "include")
        nginx.write_main_conf()
        mode: Literal["live", "reload"] = "reload" if row == "nginx-reload" else "live"
        proxy = nginx_proxy_config(nginx, sock_dir / "admin.sock", mode, **extra)
        config = replace(make_config(tmp, blue, green, proxy), sessions=sessions)
        stop, start = nginx.stop, nginx.start
        world = Fronted(
            row, nginx_driver(config), config, listen, stop, start, _pids(nginx), nginx.error_log
        )
    world.driver.write_files(live)  # what `proxy install` does before the proxy runs
    try:
        world.start()
        world.driver.install(live)
        yield world
    finally:
        world.stop()


def _pids(proc: NginxProcess | HaproxyProcess) -> Callable[[], tuple[int | None, list[int]]]:
    return lambda: (proc.master_pid(), proc.worker_pids())
