"""The `fleet` profile: the explorer, web and evm services on one host, as one configuration
directory behind one nginx — the shape of issue 23's "every service in one installation".

It copies nothing from the one-service profiles: each member *is* one of them (its parts, its
tables), given its own name, its own ports and its own sub-directory for its parts. What the
fleet adds is the host's side: host.toml (state_dir, secrets_file, the shared [proxy] keys,
[switch], [notify]) and the ports plan.

Ports, from the sandbox's port base B: member i (in FLEET_MEMBERS' order) gets its own listen
port B+3i (its `proxy_url`) and its colours B+3i+1 and B+3i+2 — explorer 0-2, web 3-5, evm 6-8;
the host-side parts keep their single-profile offsets (PostgreSQL B+20, JSON-RPC chain B+21, the
agent's exporter B+22), so a fleet fits a one-service sandbox's span of ports.

    DIR/host.toml  DIR/explorer.toml  DIR/web.toml  DIR/evm.toml     the configuration
    DIR/secrets.env                   the members' secrets, one 0600 file for the host
    DIR/explorer/ DIR/evm/            each member's parts (its PostgreSQL cluster, chain log)
    DIR/state/NAME                    each service's state (derived by the fleet loader)
    DIR/nginx/nginx.conf              one nginx: one server {} per service, each on its port,
    DIR/nginx/bluegreen/NAME/         each including its service's own http and location files
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from console.sandbox.procs import SandboxError
from console.sandbox.profiles.base import (
    Context,
    Ports,
    Profile,
    header,
    own_proxy_keys,
    shared_proxy_keys,
    switch_notify,
)
from console.sandbox.profiles.evm import EvmProfile
from console.sandbox.profiles.explorer import ExplorerProfile
from console.sandbox.profiles.web import WebProfile

FLEET_PROFILE = "fleet"
# (service name, the profile it is); the order is the ports' order.
FLEET_MEMBERS: tuple[tuple[str, Profile], ...] = (
    ("explorer", ExplorerProfile()),
    ("web", WebProfile()),
    ("evm", EvmProfile()),
)
FLEET_SUMMARY = "explorer, web and evm services: one configuration directory, one nginx"
PORTS_PER_SERVICE = 3  # its listen port, blue, green
MAX_SERVICES = Ports.from_base(0).admin // PORTS_PER_SERVICE  # below the shared ports
HOST_FILE = "host.toml"
# The agent's exporter is host-wide ([metrics] in host.toml). Only one agent may hold it: while
# each service's agent is its own process, none gets it (a second would fail to bind and exit).
SERVE_METRICS = False


def member_ports(base: int, index: int, first_service_port: int | None = None) -> Ports:
    """Service `index`'s ports: its three from `first_service_port` (default: the base, for at
    most MAX_SERVICES, below the host's), the host's shared ones at their usual offsets."""
    if first_service_port is None and index >= MAX_SERVICES:
        raise SandboxError(f"A fleet sandbox holds at most {MAX_SERVICES} services.")
    shared = Ports.from_base(base)
    first = (base if first_service_port is None else first_service_port) + PORTS_PER_SERVICE * index
    return replace(shared, proxy=first, blue=first + 1, green=first + 2)


def member_context(host: Context, name: str, ports: Ports) -> Context:
    """What member `name` works with: its own ports and parts directory, the sandbox's base."""
    base = host.port_base or host.ports.proxy
    return replace(host, directory=host.directory / name, ports=ports, service=name, port_base=base)


def render_host(host: Context, metrics: bool = SERVE_METRICS) -> str:
    """host.toml: what every service shares. Each service's include directory is derived from
    include_dir (include_dir/NAME), its proxy name from its own (bluegreen_NAME)."""
    comment = (
        "# Written by `bluegreen sandbox up --profile fleet`: host-wide settings and the defaults\n"
        "# every service shares; one NAME.toml per service beside it. Secrets live in\n"
        "# secrets.env (mode 0600)."
    )
    text = (
        header(host, "", secrets=True, comment=comment)
        + "\n[proxy]                # one nginx for every service: each has its own include\n"
        + shared_proxy_keys(host)
        + switch_notify()
    )
    if metrics:
        text += (
            "\n[metrics]\n"
            f'listen = "127.0.0.1:{host.ports.metrics}"   # the agent\'s exporter, every service\n'
        )
    return text


def render_member(kind: Profile, ctx: Context) -> str:
    """NAME.toml: the member profile's own tables, and where its clients reach it."""
    return (
        f"# The {ctx.service} service of the fleet sandbox ({kind.name} profile); host.toml\n"
        "# beside it holds what every service shares.\n"
        + kind.render_service(ctx)
        + "\n[proxy]\n"
        + own_proxy_keys(ctx, "/health")
    )


def merge_secrets(directory: Path, members: list[Context]) -> str:
    """The text of the host's secrets file: every member's secrets.env, one name once."""
    seen: dict[str, str] = {}
    lines: list[str] = []
    for ctx in members:
        path = ctx.directory / "secrets.env"
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            name = line.split("=", 1)[0]
            if not name or line.startswith("#"):
                continue
            if name in seen and seen[name] != ctx.service:
                raise SandboxError(
                    f"Services {seen[name]} and {ctx.service} both define the secret {name} "
                    f"in {directory}: a fleet's services need secrets of their own names."
                )
            seen[name] = ctx.service
            lines.append(line)
    return "".join(f"{line}\n" for line in lines)
