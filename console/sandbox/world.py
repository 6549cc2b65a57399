"""The sandbox: a local world to run bluegreen against, in one of several profiles
(console/sandbox/profiles: `explorer` — PostgreSQL, a chain simulator, the stand-in indexer — by
default; `web`; `evm`; `fleet`, the three together), with nginx (Lua module) in front and v1
deployed live in blue in every service.

Everything lives in one directory (default /var/lib/bluegreen-sandbox as root, else under
~/.local/state): the configuration (one bluegreen.toml, or a fleet's host.toml and one NAME.toml
per service), a 0600 secrets file where a profile has secrets, the store, the profiles' parts,
nginx's prefix. Long-running parts (nginx, a chain simulator, the agent) run in their own
sessions so they outlive the shell that started them; `down` (console/sandbox/teardown.py) stops
them by the pids recorded in sandbox.json.

A fleet runs ONE nginx: one `server {}` per service, each listening on the service's own port
(its `proxy_url`, see profiles/fleet.py) and including that service's own location file; every
service's http file is included once in the http context.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from console.core.config.schema import Config
from console.core.fsutil import atomic_write
from console.core.listening import bind_error
from console.sandbox.info import (
    DEFAULT_HISTORY,
    DEFAULT_SPEED,
    HOST_FILE,
    SINGLE_FILE,
    SandboxInfo,
    default_dir,
    sandbox_config_path,
    status,
)
from console.sandbox.procs import SandboxError, process_alive, spawn, wait_until
from console.sandbox.profiles import DEFAULT_PROFILE, is_fleet, services_of
from console.sandbox.profiles.base import DEFAULT_PORT_BASE, Context, Ports, Profile
from console.sandbox.profiles.base import container_prefix as container_prefix
from console.sandbox.profiles.fleet import (
    SERVE_METRICS,
    member_context,
    member_ports,
    merge_secrets,
    render_host,
    render_member,
)
from console.sandbox.teardown import down

__all__ = [
    "DEFAULT_HISTORY",
    "DEFAULT_PORT_BASE",
    "DEFAULT_SPEED",
    "Ports",
    "SandboxError",
    "SandboxInfo",
    "container_prefix",
    "default_dir",
    "down",
    "process_alive",
    "sandbox_config_path",
    "status",
    "up",
]


@dataclass(frozen=True)
class Member:
    """One service the sandbox stands up: its name, the profile it is, what it works with."""

    name: str
    kind: Profile
    ctx: Context


@dataclass(frozen=True)
class Plan:
    """What `stand_up` brings up: the services (name, profile) with their ports, and whether
    their configuration is a fleet's directory (else one bluegreen.toml for the one service)."""

    profile: str  # recorded in sandbox.json, and what `up` on a running sandbox compares
    services: tuple[tuple[str, Profile], ...]
    ports: dict[str, Ports]  # by service name
    fleet: bool

    @classmethod
    def of(cls, profile: str, port_base: int) -> Plan:
        services = services_of(profile)
        fleet = is_fleet(profile)
        ports = {
            name: member_ports(port_base, index) if fleet else Ports.from_base(port_base)
            for index, (name, _) in enumerate(services)
        }
        return cls(profile, services, ports, fleet)


def up(
    directory: Path | None = None,
    history: int = DEFAULT_HISTORY,
    speed: int = DEFAULT_SPEED,
    port_base: int = DEFAULT_PORT_BASE,
    say: Callable[[str], None] = print,
    profile: str = DEFAULT_PROFILE,
    docker_host: str = "",
) -> SandboxInfo:
    plan = Plan.of(profile, port_base)
    return stand_up(directory, plan, history, speed, port_base, say, docker_host)


def stand_up(
    directory: Path | None,
    plan: Plan,
    history: int = DEFAULT_HISTORY,
    speed: int = DEFAULT_SPEED,
    port_base: int = DEFAULT_PORT_BASE,
    say: Callable[[str], None] = print,
    docker_host: str = "",
) -> SandboxInfo:
    """Bring up `plan`'s services in `directory`: images, each one's parts, the configuration,
    one nginx for all, v1 live in blue in each (deployed side by side)."""
    from console.sandbox import images

    directory = (directory or default_dir()).resolve()
    existing = SandboxInfo.load(directory)
    if existing and process_alive(existing.pids.get("nginx")):
        if existing.profile != plan.profile:
            raise SandboxError(
                f"The sandbox in {directory} is up with profile '{existing.profile}', not "
                f"'{plan.profile}'. Run `bluegreen sandbox down` first, or give another --dir."
            )
        say(f"The sandbox in {directory} is already up.")
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)  # the postgres user must traverse it to its cluster
    used = _ports_used(plan)
    busy = _ports_in_use(used)
    if busy:
        # Checked first: nginx would fail to bind, and the error would surface later as a
        # confusing reload failure — or another sandbox's nginx would answer in its place.
        raise SandboxError(
            f"Ports in use on 127.0.0.1: {', '.join(busy)}. Another sandbox (or something else) "
            f"listens there: pass another --port-base, or `bluegreen sandbox down --dir DIR` "
            "the sandbox that holds them."
        )

    repositories = list(dict.fromkeys(kind.repository for _, kind in plan.services))
    say(f"Building images (offline): base, {', '.join(repositories)} v1 and v2…")
    try:
        client = images.engine_client(docker_host)
        image_refs = [
            images.build_image(tag, repository=repository, client=client)
            for repository in repositories
            for tag in ("v1", "v2")
        ]
        gateway = images.docker_gateway_ip("bridge", client)
    except Exception as exc:
        raise SandboxError(f"Could not build the sandbox images: {exc}") from exc

    host = Context(directory, Ports.from_base(port_base), history, speed, gateway, say)
    host = replace(host, docker_host=docker_host, port_base=port_base)
    members = [
        Member(name, kind, member_context(host, name, plan.ports[name]) if plan.fleet else host)
        for name, kind in plan.services
    ]
    # Recorded before anything starts, and again as each part does: a failure half-way leaves a
    # record `down` removes everything by.
    info = SandboxInfo(
        dir=str(directory),
        config=str(directory if plan.fleet else directory / SINGLE_FILE),
        proxy_url=f"http://127.0.0.1:{members[0].ctx.ports.proxy}",
        admin_url="",
        ports=used,
        images=image_refs,
        containers=[f"{m.ctx.container_stem(m.name)}-{c}" for m in members for c in COLOURS],
        history=history,
        speed=speed,
        profile=plan.profile,
        service=members[0].name,
        docker_host=docker_host,
        services={
            m.name: {
                "profile": m.kind.name,
                "proxy_url": f"http://127.0.0.1:{m.ctx.ports.proxy}",
                "containers": [f"{m.ctx.container_stem(m.name)}-{c}" for c in COLOURS],
                "parts": str(m.ctx.directory),
            }
            for m in members
        },
    )
    info.save()
    for member in members:
        member.ctx.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        started = member.kind.start(member.ctx)
        prefix = f"{member.name}." if plan.fleet else ""
        info.pids.update({prefix + part: pid for part, pid in started.items()})
        info.save()

    configs = _configure(directory, host, members, plan.fleet)
    _start_nginx(directory, configs, info, say)
    info.admin_url = f"unix:{configs[members[0].name].admin_socket_path}"
    for name, config in configs.items():
        info.services[name]["admin_url"] = f"unix:{config.admin_socket_path}"
    info.save()
    _deploy_every_v1([(configs[m.name], dict(m.kind.v1_env)) for m in members], say)
    return info


COLOURS = ("blue", "green")
SERVICE_PORTS = ("proxy", "blue", "green")  # each service's own; the others are the host's
DEPLOYS_SIDE_BY_SIDE = 4  # v1 deploys at once: a fleet of web stand-ins comes up in seconds


def _ports_used(plan: Plan) -> dict[str, int]:
    """What each port is for: `proxy`, `blue`, … — a fleet's per-service ones as `NAME.proxy`."""
    used: dict[str, int] = {}
    for name, kind in plan.services:
        ports = plan.ports[name]
        shared = ("admin", "metrics", *kind.extra_ports)
        if plan.fleet and not SERVE_METRICS:
            shared = shared[:1] + shared[2:]
        own = {f"{name}.{p}" if plan.fleet else p: getattr(ports, p) for p in SERVICE_PORTS}
        used.update(own)
        used.update({p: getattr(ports, p) for p in shared})
    return used


def _ports_in_use(used: dict[str, int]) -> list[str]:
    """`name port` for each port something already listens on."""
    return [f"{name} {port}" for name, port in used.items() if bind_error("127.0.0.1", port)]


def _configure(
    directory: Path, host: Context, members: list[Member], fleet: bool
) -> dict[str, Config]:
    """Write the configuration (a file, or a fleet's directory) and read it back as the product
    reads it: one Config per service, by name."""
    from console.core.config.fleet import load_fleet

    if fleet:
        secrets = merge_secrets(directory, [m.ctx for m in members])
        atomic_write(directory / "secrets.env", secrets, mode=0o600)
        atomic_write(directory / HOST_FILE, render_host(host), mode=0o644)
        for member in members:
            text = render_member(member.kind, member.ctx)
            atomic_write(directory / f"{member.name}.toml", text, mode=0o644)
        path = directory
    else:
        path = directory / SINGLE_FILE
        atomic_write(path, members[0].kind.render_config(members[0].ctx), mode=0o644)
    loaded = load_fleet(str(path))
    if loaded.skipped:
        raise SandboxError(" ".join(loaded.skipped.values()))
    return dict(loaded.services)


def _start_nginx(
    directory: Path, configs: dict[str, Config], info: SandboxInfo, say: Callable[[str], None]
) -> None:
    """One nginx for every service: write each one's includes, start it, install each colour."""
    from urllib.parse import urlsplit

    from console.drivers.proxy import make_proxy
    from console.sandbox.nginx_proc import INCLUDES, NginxProcess, Site

    sites = [
        Site(urlsplit(config.proxy.proxy_url).port or 0, Path(config.proxy.include_dir))
        for config in configs.values()
    ]
    ports = ", ".join(
        f"{name} 127.0.0.1:{site.listen_port}" for name, site in zip(configs, sites, strict=True)
    )
    say(f"Starting nginx (Lua live switching): {ports}…")
    first, *more = sites
    nginx = NginxProcess(
        directory / "nginx", first.listen_port, info.ports["admin"], first.include_dir, tuple(more)
    )
    nginx.write_main_conf()
    # Each service's write tests the whole nginx.conf, which includes every service's files:
    # the ones not written yet are empty meanwhile (an empty include is valid nginx).
    for path in (site.include_dir / name for site in sites for name in INCLUDES):
        path.touch(exist_ok=True)
    drivers = [make_proxy(config) for config in configs.values()]  # each [proxy]: nginx, live
    for driver in drivers:
        driver.write_files("blue")
    info.pids["nginx"] = spawn(nginx.argv(), directory / "nginx" / "logs" / "stderr.log")
    info.save()
    for driver in drivers:
        wait_until(
            lambda d=driver: d.read_back().answered,  # type: ignore[misc]
            10,
            f"nginx did not answer on its admin socket (see {nginx.error_log})",
        )
        driver.install("blue")


def _deploy_every_v1(
    services: list[tuple[Config, dict[str, str]]], say: Callable[[str], None]
) -> None:
    """v1 live in blue in every service, several at once (each has its own store, lock and
    containers); the first failure is raised once all have finished."""
    from concurrent.futures import ThreadPoolExecutor

    if len(services) == 1:
        _deploy_v1(*services[0], say)
        return
    with ThreadPoolExecutor(min(DEPLOYS_SIDE_BY_SIDE, len(services))) as pool:
        done = [pool.submit(_deploy_v1, config, env, say) for config, env in services]
    for future in done:
        future.result()


def _deploy_v1(config: Config, env: dict[str, str], say: Callable[[str], None]) -> None:
    """Bring v1 up in blue and make it live, fast (the demo is about v2's catch-up)."""
    from console.core.model import Outcome, SlotState, SwitchPolicy
    from console.wiring import open_console

    console = open_console(config)
    try:
        if (
            console.status().live == "blue"
            and console.status().slots["blue"].state == SlotState.LIVE
        ):
            return
        say(f"Deploying v1 into blue of {config.service} and switching it live…")
        for event in console.deploy("v1", env=env, policy=SwitchPolicy.AUTO):
            if isinstance(event, Outcome) and not event.ok:
                raise SandboxError(f"Deploying v1 of {config.service} failed: {event.text}")
        wait_until(
            lambda: (
                console.status().live == "blue"
                and console.status().slots["blue"].state == SlotState.LIVE
            ),
            120,
            f"blue (v1) of {config.service} did not become live",
        )
    finally:
        console.close()
