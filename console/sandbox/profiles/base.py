"""What every sandbox profile shares: the port plan, what a profile gets to work with, the one
Protocol a profile implements, and the config sections that do not depend on the profile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DEFAULT_PORT_BASE = 18080


@dataclass
class Ports:
    proxy: int
    blue: int
    green: int
    admin: int
    postgres: int
    rpc: int = 0  # the evm profile's JSON-RPC chain; 0 in sandboxes made before it existed
    metrics: int = 0  # the agent's Prometheus exporter; 0 in sandboxes made before it existed

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(
            proxy=base,
            blue=base + 1,
            green=base + 2,
            admin=base + 19,
            postgres=base + 20,
            rpc=base + 21,
            metrics=base + 22,
        )


@dataclass(frozen=True)
class Context:
    """What `sandbox up` decided before the profile starts its parts."""

    directory: Path
    ports: Ports
    history: int
    speed: int
    gateway: str  # the host's address on the Docker bridge: how containers reach host services
    say: Callable[[str], None] = print
    docker_host: str = ""  # the engine the sandbox runs on ("" = $DOCKER_HOST, then local)
    service: str = ""  # the service's name where it is not the profile's own (in a fleet)
    port_base: int = 0  # the sandbox's, where it is not this service's proxy port (in a fleet)

    def service_name(self, default: str) -> str:
        return self.service or default

    def container_stem(self, default: str) -> str:
        """What the service's containers are named after: its name, and the sandbox's port base
        unless it is the default one."""
        return container_prefix(self.service_name(default), self.port_base or self.ports.proxy)


@dataclass(frozen=True)
class Probe:
    """The request that shows which colour serves (through the proxy), for the demo and tests."""

    method: str = "GET"
    path: str = "/"
    json_body: dict[str, object] | None = None


class Profile(Protocol):
    name: str
    service: str  # the [service] name, and the container names' stem
    repository: str  # the stand-in image repository (tags v1 and v2 are built)
    summary: str  # one line for `--help` and the docs
    v1_env: Mapping[str, str]  # deploy-time env that brings v1 up fast (the demo is about v2)
    probe: Probe
    extra_ports: tuple[str, ...]  # the Ports fields this profile uses beyond the proxy's four
    secrets: bool  # writes a secrets.env in its directory (database URLs)

    def start(self, ctx: Context) -> dict[str, int]:
        """Start the host-side parts (database, chain), write secrets; return their pids."""
        ...

    def render_service(self, ctx: Context) -> str:
        """The service's own tables: what one file of a fleet directory holds, and the middle
        of the profile's single-file bluegreen.toml (see `single_file`)."""
        ...

    def render_config(self, ctx: Context) -> str:
        """The bluegreen.toml of this profile."""
        ...

    def stop(self, directory: Path, ports: dict[str, int]) -> None:
        """Stop what is not stopped by pid (a database cluster); pids are stopped by the caller."""
        ...


def container_prefix(service: str, port_base: int) -> str:
    # A second sandbox (the tests') must not collide with the demo's container names.
    return service if port_base == DEFAULT_PORT_BASE else f"{service}-{port_base}"


def single_file(profile: Profile, ctx: Context) -> str:
    """A one-service sandbox's bluegreen.toml: the host-wide keys, the service's tables, then
    the proxy, switch, notify and metrics tables."""
    return (
        header(ctx, ctx.service_name(profile.service), profile.secrets)
        + profile.render_service(ctx)
        + proxy_switch_notify(ctx, "/health")
    )


def header(ctx: Context, service: str, secrets: bool, comment: str = "") -> str:
    """The host-wide top of a configuration: a single file's (with `service`), or a fleet's
    host.toml (`service` "")."""
    lines = [
        comment
        or (
            "# Written by `bluegreen sandbox up`."
            + (" Secrets live in secrets.env (mode 0600)." if secrets else "")
        )
    ]
    if service:
        lines.append(f'service = "{service}"')
    lines.append(f'state_dir = "{ctx.directory / "state"}"')
    if secrets:
        lines.append(f'secrets_file = "{ctx.directory / "secrets.env"}"')
    if ctx.docker_host:  # a table: every profile's text after the header is tables too
        # Explicit limits below any host's: Podman sets rlimits on every container, and a host
        # whose hard limits are lower than Podman's defaults refuses to start it.
        lines.append(
            f'\n[runtime]\ndocker_host = "{ctx.docker_host}"\n'
            'ulimits = { nofile = "4096:16384", nproc = "4096:8192" }'
        )
    return "\n".join(lines) + "\n"


def slots(ctx: Context, service: str, with_db: bool, extra: str = "") -> str:
    """The two [slots.X] tables; `service`: the profile's own name, unless the context names it."""
    prefix = ctx.container_stem(service)
    text = ""
    for color in ("blue", "green"):
        port = getattr(ctx.ports, color)
        text += f'\n[slots.{color}]\ncontainer = "{prefix}-{color}"\nhost_port = {port}\n'
        if with_db:
            upper = color.upper()
            text += f'db_url = "${{{upper}_DB_URL}}"\nhost_db_url = "${{{upper}_HOST_DB_URL}}"\n'
        text += extra  # more keys for each [slots.X] table
    return text


def catchup_readiness(log_pattern: str, smoke: str) -> str:
    """The `[readiness]` of a profile that re-indexes: lag ≤ 2 held 3 s, health, a smoke request
    (`smoke`: its TOML lines), not behind the live colour, a stall after 20 s; sampled every 1 s."""
    return f"""
[readiness]
max_lag = 2
hold_seconds = 3
log_pattern = "{log_pattern}"
health_path = "/health"
{smoke}
not_behind_live = true
stall_seconds = 20
sample_interval_seconds = 1.0
"""


def proxy_switch_notify(ctx: Context, probe_path: str, every_blocks: int = 5000) -> str:
    return (
        "\n[proxy]\n"
        + shared_proxy_keys(ctx)
        + own_proxy_keys(ctx, probe_path)
        + switch_notify(every_blocks)
        + metrics_table(ctx)
    )


def shared_proxy_keys(ctx: Context) -> str:
    """The [proxy] keys every service of a sandbox shares: its one nginx, reached by its own
    commands (a fleet's include_dir is the parent of each service's own)."""
    nginx_dir = ctx.directory / "nginx"
    nginx_argv = f'"nginx", "-p", "{nginx_dir}", "-c", "{nginx_dir / "nginx.conf"}"'
    return f"""kind = "nginx"
mode = "live"
include_dir = "{nginx_dir / "bluegreen"}"
test_command = [{nginx_argv}, "-t", "-q"]
reload_command = [{nginx_argv}, "-s", "reload"]
preview = true   # local by nature: X-Bluegreen-Preview / bluegreen_preview reach either colour
"""


def own_proxy_keys(ctx: Context, probe_path: str) -> str:
    """The [proxy] keys of one service: where its clients reach it (its own listen port)."""
    return f'proxy_url = "http://127.0.0.1:{ctx.ports.proxy}"\nprobe_path = "{probe_path}"\n'


def switch_notify(every_blocks: int = 5000) -> str:
    return f"""
[switch]
policy = "confirm"
watch_seconds = 60
auto_rollback = true
keep_previous_seconds = 0

[notify]
webhook_url = ""
every_blocks = {every_blocks}
"""


def metrics_table(ctx: Context) -> str:
    return f"""
[metrics]
listen = "127.0.0.1:{ctx.ports.metrics}"   # the agent's Prometheus exporter (loopback only)
"""
