"""Several real edge proxies for the edge tests and the bench (issue 25.3).

- `NetnsNginx`: an nginx in live mode on its own "host" (a network namespace, tests/netns_hosts),
  listening on the host's address, its admin endpoint on TCP there (with the token), the stand-in
  colours on the host's own loopback (a child process), so its link can go down mid-switch.
- `loopback_nginx_edges` / `haproxy_pair`: edges on this machine's loopback, fronting one pair of
  stand-in colours, for the SIGKILL/SIGSTOP faults and the bench.
- `edge_config`: `[proxy]` as the default edge plus a `[[proxy.edges]]` entry per other edge.
- faults: `kill`, `pause`/`resume` (SIGSTOP/SIGCONT on the master and its workers), and
  `once_at_switch`, which injects one of them into one edge's own switch call (mid-switch: the
  other edges are changing at that moment).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx

from console.core.config.edges import EdgeConfig
from console.core.config.proxy import HaproxyProxyConfig, NginxProxyConfig
from console.core.config.schema import Config
from console.core.contracts.proxy import COLOR_HEADER, ProxyError, SwitchResult
from console.core.model import Color
from console.drivers.proxy import make_proxy
from console.drivers.proxy.edges.composite import EdgeSet
from console.drivers.proxy.nginx.render import HTTP_FILE, LOCATION_FILE
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.nginx_proc import LUA_MODULES, MODULES_DIR, NginxProcess
from console.sandbox.procs import child_pids
from tests.integration.proxy_helpers import free_ports, make_config, nginx_conf_around
from tests.netns_hosts import Host

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class NetnsProxy:
    """A proxy on `host`: clients at host:listen, its admin endpoint at host:admin."""

    host: Host
    prefix: Path
    listen: int
    admin: int
    process: subprocess.Popen[str] | None = None
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    @property
    def include_dir(self) -> Path:
        return self.prefix / "bluegreen"

    @property
    def url(self) -> str:
        return f"http://{self.host.address}:{self.listen}"

    def pids(self) -> list[int]:
        """The proxy and its workers (none once it is gone)."""
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *child_pids(self.process.pid)]

    def stop(self) -> None:
        resume(self.pids())  # a paused proxy cannot stop
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@dataclasses.dataclass
class NetnsNginx(NetnsProxy):
    """nginx live mode on a host, its admin endpoint on TCP there (with the token)."""

    stop_signal: ClassVar[signal.Signals] = signal.SIGQUIT

    def argv(self) -> list[str]:
        return ["nginx", "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")]

    def write_main_conf(self) -> None:
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        self.include_dir.mkdir(parents=True, exist_ok=True)
        modules = "".join(f"load_module {MODULES_DIR / name};\n" for name in LUA_MODULES)
        body = (
            f"    include {self.include_dir / HTTP_FILE};\n"
            "    server {\n"
            f"        listen {self.host.address}:{self.listen};\n"
            f"        location / {{ include {self.include_dir / LOCATION_FILE}; }}\n"
            "    }\n"
        )
        text = nginx_conf_around(modules, body, self.prefix, workers=1)
        (self.prefix / "nginx.conf").write_text(text, encoding="utf-8")

    def start(self) -> None:
        log = (self.prefix / "logs" / "stderr.log").open("ab")
        with log:
            self.process = self.host.run(self.argv(), stdout=log, stderr=log)
        wait_for(lambda: answers(self.url), f"nginx on {self.host.name}")


def standins_on(host: Host | None, blue: int, green: int) -> subprocess.Popen[str]:
    """The stand-in colours (proxy_helpers' upstreams) as a child process on `host`'s loopback
    (None: this machine's)."""
    argv = [sys.executable, "-m", "tests.integration.edges_world", str(blue), str(green)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kwargs: dict[str, Any] = {"env": env, "stdin": subprocess.DEVNULL, "text": True}
    process = host.run(argv, **kwargs) if host else subprocess.Popen(argv, **kwargs)
    where = host.name if host else "loopback"
    wait_for(lambda: _listening(host, blue) and _listening(host, green), f"stand-ins on {where}")
    return process


def _listening(host: Host | None, port: int) -> bool:
    if host is None:
        return answers(f"http://127.0.0.1:{port}", header=False)
    probe = ["ip", "netns", "exec", host.name, "bash", "-c", f"</dev/tcp/127.0.0.1/{port}"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def edge_config(
    tmp: Path,
    blue: int,
    green: int,
    default: NginxProxyConfig | HaproxyProxyConfig,
    more: Sequence[EdgeConfig],
) -> Config:
    proxy = dataclasses.replace(default, edges=list(more), verify_timeout_seconds=3.0)
    return make_config(tmp, blue, green, proxy)


def netns_edge_proxy(edge: NetnsNginx) -> NginxProxyConfig:
    """The edge's `[proxy]` keys; its commands run on its host (as `ssh HOST nginx -t` would)."""
    on_host = ["ip", "netns", "exec", edge.host.name, *edge.argv()]
    return NginxProxyConfig(
        include_dir=str(edge.include_dir),
        proxy_url=edge.url,
        admin_url=f"http://{edge.host.address}:{edge.admin}",
        test_command=[*on_host, "-t", "-q"],
        reload_command=[*on_host, "-s", "reload"],
    )


def as_more_edge(name: str, proxy: NginxProxyConfig | HaproxyProxyConfig) -> EdgeConfig:
    return EdgeConfig(
        name=name,
        proxy_url=proxy.proxy_url,
        admin_url=getattr(proxy, "admin_url", ""),
        admin_socket=proxy.admin_socket,
        include_dir=proxy.include_dir,
        test_command=proxy.test_command,
        reload_command=proxy.reload_command,
    )


def composite(config: Config) -> EdgeSet:
    proxy = make_proxy(config)
    assert isinstance(proxy, EdgeSet)
    return proxy


# ── edges on loopback ───────────────────────────────────────────────────────────────────────────


@contextlib.contextmanager
def loopback_nginx_edges(
    tmp: Path, candidates: Sequence[int], count: int = 2
) -> Iterator[tuple[EdgeSet, list[NginxProcess]]]:
    """`count` nginx live-mode edges on loopback in front of one pair of stand-ins, blue live."""
    blue, green, *listens = free_ports(candidates, 2 + count)
    standins = standins_on(None, blue, green)
    procs = [
        NginxProcess(tmp / f"nginx-{i}", listens[i], 0, tmp / f"include-{i}") for i in range(count)
    ]
    proxies = [
        NginxProxyConfig(
            include_dir=str(p.include_dir),
            proxy_url=f"http://127.0.0.1:{p.listen_port}",
            admin_socket=str(tmp / f"admin-{i}.sock"),
            test_command=p.test_command(),
            reload_command=p.reload_command(),
        )
        for i, p in enumerate(procs)
    ]
    more = [as_more_edge(f"edge-{i + 1}", proxy) for i, proxy in enumerate(proxies[1:], 1)]
    edges = composite(edge_config(tmp, blue, green, proxies[0], more))
    with stopped_after(procs, standins):
        start_on_blue(edges, procs)
        yield edges, procs


def start_on_blue(edges: EdgeSet, procs: Sequence[NginxProcess | NetnsNginx]) -> None:
    """Write every edge's files (blue live), start each nginx, and set its shared dict."""
    for proc in procs:
        proc.write_main_conf()
    edges.write_files("blue")
    for proc in procs:
        proc.start()
    edges.install("blue")  # the shared dict starts empty


@contextlib.contextmanager
def haproxy_pair(tmp: Path, candidates: Sequence[int]) -> Iterator[tuple[EdgeSet, list[Any]]]:
    """Two HAProxy edges on loopback (runtime API sockets) in front of one pair, blue live."""
    blue, green, *listens = free_ports(candidates, 4)
    standins = standins_on(None, blue, green)
    procs = [
        HaproxyProcess(tmp / f"haproxy-{i}", listens[i], tmp / f"haproxy-{i}.sock") for i in (0, 1)
    ]
    proxies = [
        HaproxyProxyConfig(
            include_dir=str(p.prefix_dir / "bluegreen"),
            proxy_url=f"http://127.0.0.1:{p.listen_port}",
            admin_socket=str(p.admin_socket),
        )
        for p in procs
    ]
    edges = composite(
        edge_config(tmp, blue, green, proxies[0], [as_more_edge("edge-1", proxies[1])])
    )
    with stopped_after(procs, standins):
        for proc, edge in zip(procs, edges.edges, strict=True):
            proc.write_conf(edge.driver.backend_section())  # type: ignore[attr-defined]
            proc.start()
        edges.install("blue")
        yield edges, procs


def process_pids(proc: NginxProcess | HaproxyProcess) -> list[int]:
    """A private proxy's master and its workers (none once it is gone)."""
    master = proc.master_pid()
    return [master, *proc.worker_pids()] if master else []


@contextlib.contextmanager
def stopped_after(
    procs: Sequence[NginxProcess | HaproxyProcess], standins: subprocess.Popen[str]
) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            resume(process_pids(proc))  # a paused proxy cannot stop
            proc.stop()
        standins.terminate()
        standins.wait(5)


# ── faults and probes ───────────────────────────────────────────────────────────────────────────


def kill(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def pause(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)


def resume(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def once_at_switch(edges: EdgeSet, index: int, fault: Callable[[], None]) -> None:
    """Run `fault` once, inside edge `index`'s own next switch, just before it acts (the other
    edges switch at that moment, on their own threads). The put-back's switch runs unharmed."""
    driver = edges.edges[index].driver
    original = driver.switch

    def faulty(to: Color) -> SwitchResult:
        driver.switch = original  # type: ignore[method-assign]
        fault()
        return original(to)

    driver.switch = faulty  # type: ignore[method-assign]


def converge_until_steady(
    edges: EdgeSet, colours: Callable[[], list[str | None]], want: list[str | None], seconds: float
) -> None:
    """The reconciler's convergence once per tick, until the edges held `want` for a second (a
    SIGCONTed HAProxy runs its queued switch after a first convergence may have read it)."""
    deadline = time.monotonic() + seconds
    held_since: float | None = None
    while time.monotonic() < deadline:
        edges.converge()
        if colours() != want:
            held_since = None
        elif held_since is None:
            held_since = time.monotonic()
        elif time.monotonic() - held_since >= 1.0:
            return
        time.sleep(0.1)
    raise AssertionError(f"the edges route {colours()} after {seconds} s, not {want}")


def failed_switch(edges: EdgeSet, index: int, fault: Callable[[], None]) -> ProxyError:
    """Switch to green with `fault` injected into edge `index`'s own switch; the failure."""
    once_at_switch(edges, index, fault)
    try:
        edges.switch("green")
    except ProxyError as exc:
        return exc
    raise AssertionError("the switch did not fail")


def answers(url: str, header: bool = True) -> bool:
    try:
        with httpx.Client(trust_env=False, timeout=1.0) as client:
            response = client.get(f"{url}/health")
    except httpx.HTTPError:
        return False
    return response.status_code < 500 and (not header or COLOR_HEADER in response.headers)


def served_color(url: str, timeout: float = 1.0) -> str | None:
    """The colour an edge answers a client with (None: no answer)."""
    try:
        with httpx.Client(trust_env=False, timeout=timeout) as client:
            response = client.get(f"{url}/health")
    except httpx.HTTPError:
        return None
    return response.headers.get(COLOR_HEADER)


def wait_for(ready: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    """A hang guard: `ready` is polled until it holds; only a part that never comes fails."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")
        time.sleep(0.05)


if __name__ == "__main__":  # the stand-in colours, as a child process (on a namespace's host)
    from tests.integration.proxy_helpers import upstreams

    blue_port, green_port = int(sys.argv[1]), int(sys.argv[2])
    with upstreams([blue_port, green_port]):
        threading.Event().wait()  # until SIGTERM ends the process
