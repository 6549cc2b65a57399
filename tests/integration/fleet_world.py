"""Several services behind ONE real proxy — one nginx (live or reload) or one HAProxy — as an
operator sets it up: a configuration directory (host.toml and one file per service, read by
`load_fleet`), each service's files installed, and the proxy's own configuration built from
`bluegreen proxy snippet`'s lines, routing each service by path prefix (`/NAME/`, how each
service's switch verifies) and by host name (`NAME.example.com`).

test_proxy_fleet.py proves the services isolated in it; bench/fleet_switch.py switches one under
load while measuring the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from console.core.config.fleet import load_fleet
from console.core.config.schema import Config
from console.core.contracts.proxy import ProxyDriver
from console.core.model import Color
from console.drivers.proxy import make_proxy
from console.drivers.proxy.fleet import fleet_snippet
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.nginx_proc import LUA_MODULES, MODULES_DIR, NginxProcess
from tests.integration.proxy_helpers import nginx_conf_around


@dataclass
class Service:
    """One service behind the shared proxy."""

    name: str
    config: Config
    driver: ProxyDriver
    url: str  # the service through the shared proxy: http://127.0.0.1:PORT/NAME


@dataclass
class SharedProxy:
    """One proxy process serving every service."""

    row: str  # the DRIVERS key every service uses
    services: dict[str, Service]
    process: NginxProcess | HaproxyProcess

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    def reload(self) -> None:
        """nginx: `nginx -s reload` of the one process every service shares."""
        assert isinstance(self.process, NginxProcess), "HAProxy is switched without reloads"
        self.process.reload()


def _host_toml(row: str, tmp: Path, process: NginxProcess | HaproxyProcess) -> str:
    lines = [f'state_dir = "{tmp / "state"}"', "[proxy]", f'include_dir = "{tmp / "include"}"']
    lines.append("verify_timeout_seconds = 3.0")
    if isinstance(process, HaproxyProcess):
        lines += ['kind = "haproxy"', f'admin_socket = "{process.admin_socket}"']
    else:
        lines += ['kind = "nginx"', f'mode = "{row.removeprefix("nginx-")}"']
        lines.append(f"test_command = {_toml_list(process.test_command())}")
        lines.append(f"reload_command = {_toml_list(process.reload_command())}")
    return "\n".join(lines) + "\n"


def _toml_list(argv: list[str]) -> str:
    return "[" + ", ".join(f'"{arg}"' for arg in argv) + "]"


def _service_toml(name: str, ports: tuple[int, int], url: str, socket: Path | None) -> str:
    blue, green = ports
    admin = f'admin_socket = "{socket}"\n' if socket else ""
    return (
        f'[image]\nrepository = "{name}"\n'
        f'[slots.blue]\ncontainer = "{name}-blue"\nhost_port = {blue}\n'
        f'[slots.green]\ncontainer = "{name}-green"\nhost_port = {green}\n'
        f'[proxy]\nproxy_url = "{url}"\n{admin}'
    )


@contextmanager
def shared_proxy(
    row: str,
    tmp: Path,
    listen: int,
    sock_dir: Path,
    ports: dict[str, tuple[int, int]],
    live: dict[str, Color],
) -> Iterator[SharedProxy]:
    """Services `ports` (name → blue and green upstream ports) behind one proxy of DRIVERS row
    `row` on `listen`, each installed with its colour in `live`. `sock_dir`: a short directory
    for the admin sockets (≤ 107 bytes)."""
    process: NginxProcess | HaproxyProcess
    if row == "haproxy":
        process = HaproxyProcess(tmp / "haproxy", listen, sock_dir / "haproxy.sock")
    else:
        # Its include dir: the first service's (the fleet gives each include_dir/NAME), whose
        # files it checks for at start.
        process = NginxProcess(tmp / "nginx", listen, 0, tmp / "include" / min(ports))
    etc = tmp / "etc"
    etc.mkdir(parents=True)
    (etc / "host.toml").write_text(_host_toml(row, tmp, process))
    for name, upstream in ports.items():
        socket = None if row == "haproxy" else sock_dir / f"{name}.sock"
        url = f"http://127.0.0.1:{listen}/{name}"
        (etc / f"{name}.toml").write_text(_service_toml(name, upstream, url, socket))
    fleet = load_fleet(str(etc))
    assert not fleet.skipped, fleet.skipped
    services = {
        c.service: Service(c.service, c, make_proxy(c), f"http://127.0.0.1:{listen}/{c.service}")
        for c in fleet
    }
    snippet = fleet_snippet(list(fleet))
    if isinstance(process, NginxProcess):  # `nginx -t` checks an nginx.conf without them yet
        _write_nginx_conf(process, snippet, with_services=False)
    for service in services.values():
        service.driver.write_files(live[service.name])  # what `proxy install` does first
    if isinstance(process, HaproxyProcess):
        _write_haproxy_conf(process, services, snippet)
    else:
        _write_nginx_conf(process, snippet)
    world = SharedProxy(row, services, process)
    try:
        process.start()
        for service in services.values():
            service.driver.install(live[service.name])
        yield world
    finally:
        process.stop()


def _write_nginx_conf(process: NginxProcess, snippet: str, with_services: bool = True) -> None:
    """The snippet's http includes and both its routings on our port: the path-prefix
    server { } first (the default server, for a Host no server_name names), then one server { }
    per service by host name."""
    (process.prefix_dir / "logs").mkdir(parents=True, exist_ok=True)
    includes = re.findall(r"^include \S+bluegreen-http\.conf;$", snippet, re.MULTILINE)
    servers = re.findall(r"^server \{\n.*?^\}$", snippet, re.M | re.S)
    by_host = [server for server in servers if "server_name" in server]
    by_path = [server for server in servers if "server_name" not in server]
    assert includes and len(by_path) == 1 and len(by_host) == len(includes), snippet
    ours = "\n".join([*by_path, *by_host])
    ours = ours.replace("listen 80;", f"listen 127.0.0.1:{process.listen_port};")
    lines = [*includes, *ours.splitlines()] if with_services else []
    body = "".join(f"    {line}\n" for line in lines)
    # The Lua module in both modes, as the sandbox's nginx has it (reload mode counts with it).
    modules = "".join(f"load_module {MODULES_DIR / name};\n" for name in LUA_MODULES)
    text = nginx_conf_around(modules, body, process.prefix_dir, workers=2, connections=1024)
    process.conf_path.write_text(text, encoding="utf-8")


def _write_haproxy_conf(
    process: HaproxyProcess, services: dict[str, Service], snippet: str
) -> None:
    """Every service's backend, and the snippet's `use_backend` rules: by host name, then by
    path prefix."""
    sections = []
    for service in services.values():
        assert isinstance(service.driver, HaproxyDriver)
        sections.append(service.driver.backend_section())
    first = next(iter(services.values())).driver
    assert isinstance(first, HaproxyDriver)
    conf = process.write_conf("\n".join(sections), first.backend)
    rules = re.findall(r"^    use_backend \S+ if \{ .* \}$", snippet, re.MULTILINE)
    assert len(rules) == 2 * len(services), snippet
    text = conf.read_text(encoding="utf-8")
    conf.write_text(text.replace("    default_backend", "\n".join(rules) + "\n    default_backend"))
