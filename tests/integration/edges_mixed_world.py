"""Edges of two kinds for tests/integration/test_edges_mixed.py (issue 25.3): nginx live mode on
this machine's loopback (the default edge, its admin endpoint a unix socket) and HAProxy on
another "host" (a network namespace in 10.82, tests/netns_hosts) listening on that host's
address, driven through its runtime API on TCP (`stats socket ipv4@10.82.0.2:PORT`). Each edge
fronts its own pair of stand-in colours on its own loopback, at the same ports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

from console.core.config.edges import EdgeConfig
from console.core.config.proxy import NginxProxyConfig
from console.core.config.schema import Config
from console.core.config.sessions import SessionsConfig
from console.drivers.proxy.edges.composite import EdgeSet
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.sandbox.nginx_proc import NginxProcess
from tests import ports
from tests.integration.edges_world import (
    NetnsProxy,
    answers,
    composite,
    edge_config,
    resume,
    standins_on,
    wait_for,
)
from tests.netns_hosts import Host, hosts

BLUE, GREEN, NGINX_LISTEN, HAPROXY_LISTEN, HAPROXY_ADMIN = ports.EDGES_MIXED[:5]
SESSIONS = SessionsConfig(cookie="deployment", count_cookie="sid", window_seconds=60)


@dataclasses.dataclass
class NetnsHaproxy(NetnsProxy):
    """HAProxy on a host, its runtime API on TCP at host:admin."""

    @property
    def runtime_api(self) -> str:
        return f"ipv4@{self.host.address}:{self.admin}"

    def write_conf(self, backend_section: str) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        text = (
            "global\n"
            f"    stats socket {self.runtime_api} level admin\n\n"
            "defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n"
            "    timeout server 30s\n\n"
            "frontend bluegreen_front\n"
            f"    bind {self.host.address}:{self.listen}\n"
            "    default_backend bluegreen\n\n"
            f"{backend_section}"
        )
        (self.prefix / "haproxy.cfg").write_text(text, encoding="utf-8")

    def start(self, driver: HaproxyDriver) -> None:
        log = (self.prefix / "haproxy.log").open("ab")
        with log:
            argv = ["haproxy", "-W", "-db", "-f", str(self.prefix / "haproxy.cfg")]
            self.process = self.host.run(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_for(lambda: driver.read_back().answered, f"HAProxy on {self.host.name}")


@dataclasses.dataclass
class MixedWorld:
    host: Host
    nginx: NginxProcess
    haproxy: NetnsHaproxy
    config: Config
    edges: EdgeSet

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{NGINX_LISTEN}", self.haproxy.url]

    @property
    def haproxy_driver(self) -> HaproxyDriver:
        driver = self.edges.edges[1].driver
        assert isinstance(driver, HaproxyDriver)
        return driver

    def restart_haproxy(self) -> None:
        """HAProxy started again from the files bluegreen wrote (its runtime state is gone)."""
        self.haproxy.stop()
        self.haproxy.write_conf(self.haproxy_driver.backend_section())
        self.haproxy.start(self.haproxy_driver)

    def mend(self) -> None:
        """Both edges up, answering, on blue with no canary and no sessions rule."""
        self.host.mend()
        resume(self.haproxy.pids())
        if not self.haproxy.pids():
            self.restart_haproxy()
        # A link just set up may still answer "No route to host" (its neighbour entry failed
        # while it was down): wait until the HAProxy host answers before acting on it.
        wait_for(lambda: self.haproxy_driver.read_back().answered, f"{self.host.name} again")
        self.edges.install("blue")
        set_sessions = getattr(self.edges, "set_sessions", None)
        if set_sessions is not None:
            set_sessions(None)


@contextlib.contextmanager
def mixed_world(tmp: Path) -> Iterator[MixedWorld]:
    with hosts("bgedg2", ["h1"], subnet=82) as net:
        host = net.members["h1"]
        standins = [standins_on(None, BLUE, GREEN), standins_on(host, BLUE, GREEN)]
        nginx = NginxProcess(tmp / "nginx", NGINX_LISTEN, 0, tmp / "nginx-include")
        haproxy = NetnsHaproxy(host, tmp / "haproxy", HAPROXY_LISTEN, HAPROXY_ADMIN)
        default = NginxProxyConfig(
            include_dir=str(nginx.include_dir),
            proxy_url=f"http://127.0.0.1:{NGINX_LISTEN}",
            admin_socket=str(tmp / "nginx-admin.sock"),
            test_command=nginx.test_command(),
            reload_command=nginx.reload_command(),
        )
        other = EdgeConfig(
            name="edge-h",
            kind="haproxy",
            proxy_url=haproxy.url,
            admin_socket=haproxy.runtime_api,
            include_dir=str(haproxy.include_dir),
        )
        config = dataclasses.replace(
            edge_config(tmp, BLUE, GREEN, default, [other]), sessions=SESSIONS
        )
        edges = composite(config)
        world = MixedWorld(host, nginx, haproxy, config, edges)
        try:
            nginx.write_main_conf()
            edges.write_files("blue")  # every edge's files; each proxy starts on them
            nginx.start()
            haproxy.write_conf(world.haproxy_driver.backend_section())
            haproxy.start(world.haproxy_driver)
            edges.install("blue")
            wait_for(lambda: all(answers(url) for url in world.urls), "both edges")
            yield world
        finally:
            host.mend()
            haproxy.stop()
            nginx.stop()
            for process in standins:
                process.terminate()
                process.wait(5)
