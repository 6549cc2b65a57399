"""The configuration's shape: `Config` and its small sections, as frozen dataclasses.

Each larger section has a module of its own beside this one (`sources` for `[head]`, `[candidate]`
and `[[readiness.checks]]`, `parity`, `analysis`, `resources`); `load` finds, reads and checks the
file, `coerce` turns TOML tables into these classes. The section modules imported here never import
this module back: each checks its own keys, and the checks that span sections live in `checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from console.core.config.analysis import AnalysisConfig
from console.core.config.hooks import Hook
from console.core.config.parity import ParityCheck
from console.core.config.proxy import NginxProxyConfig, ProxyConfig
from console.core.config.registry import RegistryConfig
from console.core.config.resources import ResourcesConfig
from console.core.config.sessions import NO_SESSIONS, SessionsConfig
from console.core.config.sources import (
    DEFAULT_HEAD_QUERY,
    HeadSpec,
    NoSource,
    ReadinessCheck,
    SourceSpec,
    SqlSource,
)
from console.core.config.store import StoreConfig
from console.core.config.swarm import SwarmConfig
from console.core.model import Color


@dataclass(frozen=True)
class ImageConfig:
    repository: str = ""  # `deploy TAG` means repository:TAG
    # argv of the service; placeholders: {source_db_url} {dest_db_url} {port} {color} {version}
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    container_port: int = 8080
    network: str = ""  # docker network to attach; "" = the default bridge
    restart_policy: Literal["no", "on-failure", "unless-stopped", "always"] = "unless-stopped"
    extra_hosts: dict[str, str] = field(default_factory=dict)
    stop_timeout_seconds: int = 30
    # Empty the idle colour's database (every schema but PostgreSQL's own, ops/db_reset.py)
    # before starting a new version, for services that re-index from nothing. Never the live one.
    reset_database: bool = False
    start_timeout_seconds: float = 120.0  # no first height by then → the deployment failed
    cpus: float = 0.0  # cap each new (candidate) container at this many cores; 0 = no limit
    memory: str = ""  # and at this much memory, e.g. "2g"; "" = no limit (resources.py)
    keep: int = 0  # images of the repository kept after a switch (core/ops/retention.py); 0 = all


@dataclass(frozen=True)
class SlotConfig:
    container: str = ""
    host_port: int = 0  # published on 127.0.0.1 only
    db_url: str = ""  # this colour's destination database (secret), as its container reaches it
    host_db_url: str = ""  # the same database as this host reaches it; "" = db_url
    env: dict[str, str] = field(default_factory=dict)
    disk_path: str = ""  # the database's data dir on this host (statvfs), for the disk gate
    disk_budget_bytes: int = 0  # or the space a remote database may use; 0 = not watched

    @property
    def sampling_db_url(self) -> str:
        """The URL this host uses to read the colour's height (and to reset its database)."""
        return self.host_db_url or self.db_url


@dataclass(frozen=True)
class SourceConfig:
    db_url: str = ""  # the chain's event database (secret), as the containers reach it
    host_db_url: str = ""  # the same database as this host reaches it; "" = db_url


@dataclass(frozen=True)
class ReadinessConfig:
    max_lag: int = 2
    hold_seconds: float = 5.0
    # A line the service logs once caught up (a regex); "" = not required. No default: one
    # service's line (the explorer's "catchup completed") means nothing to another.
    log_pattern: str = ""
    health_path: str = "/health"
    health_expect: str = ""  # a substring the health answer must contain; "" = any 2xx
    smoke_method: Literal["GET", "POST"] = "POST"
    smoke_path: str = ""  # "" = no smoke request
    smoke_body: str = ""
    not_behind_live: bool = True
    stall_seconds: float = 60.0
    sample_interval_seconds: float = 1.0
    statement_timeout_ms: int = 2000
    # Every other condition must have held this long (docker-rollout's and Kamal's "wait after
    # healthy"); 0 = ready as soon as they hold.
    min_ready_seconds: float = 0.0
    # A ready colour leaves ready only once a condition has failed this long (and over several
    # readings): one late reading or a burst of blocks is not evidence. 0 = on the first failure.
    leave_after_seconds: float = 10.0
    checks: list[ReadinessCheck] = field(default_factory=list)  # [[readiness.checks]]
    # [[parity]]: compared at H = min(blue, green height) - parity_margin (parity.py).
    parity_required: bool = False  # a match of every check is part of the gate
    parity_margin: int = 10
    parity_interval_seconds: float = 30.0  # how often the agent samples it (and at each switch)


@dataclass(frozen=True)
class SwitchConfig:
    policy: Literal["confirm", "auto", "never"] = "confirm"
    watch_seconds: float = 300.0  # post-switch window watched for automatic rollback
    auto_rollback: bool = True
    keep_previous_seconds: float = 0.0  # 0 = keep the previous colour running until next deploy
    drain_timeout_seconds: float = 300.0  # then wait this long at most for its open requests


@dataclass(frozen=True)
class NotifyConfig:
    webhook_url: str = ""  # Slack-compatible incoming webhook (secret); "" = off
    every_blocks: int = 1_000_000
    eta_warning_seconds: float = 900.0
    # A resource alarm (disk, contention) is recorded and sent once it has held this long.
    alarm_after_seconds: float = 120.0
    min_interval_seconds: float = 30.0
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class RuntimeConfig:
    # Which container engine runs the colours: one row of console.wiring.RUNTIMES.
    kind: Literal["docker", "swarm"] = "docker"
    # The Docker-API engine: "unix:///run/podman/podman.sock", "tcp://…", "ssh://…".
    # "" = $DOCKER_HOST, then the local socket (unix:///var/run/docker.sock).
    docker_host: str = ""
    # Resource limits set on every container, e.g. {nofile = "4096:16384"} (SOFT:HARD). Podman
    # sets its own on each container, which a host with lower hard limits refuses; these win.
    ulimits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricsConfig:
    # The agent's Prometheus exporter, "HOST:PORT" ("" = off). Loopback only unless
    # allow_remote: the figures name versions and hosts, and the exporter has no authentication.
    listen: str = ""
    allow_remote: bool = False


@dataclass(frozen=True)
class Config:
    service: str = "service"
    state_dir: str = "/var/lib/bluegreen"
    secrets_file: str = ""
    # Members of this group may act (state dir and files group-owned 0770/0660); "" = only the
    # owner of the state dir (and root).
    operators_group: str = ""
    # Members of this group may watch only (state dir 2750, store files 0640); needs
    # operators_group unset: a directory has one group.
    watchers_group: str = ""
    image: ImageConfig = field(default_factory=ImageConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)  # private pulls (registry.py)
    source: SourceConfig = field(default_factory=SourceConfig)
    # None = no [head] table: the candidate's self-reported head, else the default SQL head.
    head: HeadSpec | None = None
    candidate: SourceSpec = field(default_factory=NoSource)
    slots: dict[str, SlotConfig] = field(default_factory=dict)
    readiness: ReadinessConfig = field(default_factory=ReadinessConfig)
    proxy: ProxyConfig = field(default_factory=NginxProxyConfig)  # a union tagged by `kind`
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    swarm: SwarmConfig = field(default_factory=SwarmConfig)  # [runtime] kind = "swarm" (swarm.py)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    store: StoreConfig = field(default_factory=StoreConfig)  # "" url: SQLite in state_dir
    parity: list[ParityCheck] = field(default_factory=list)  # [[parity]]
    hooks: list[Hook] = field(default_factory=list)  # [[hooks]] around a release (hooks.py)
    # No [analysis] table: no traffic analysis (analysis.py); the table turns it on.
    analysis: AnalysisConfig = field(default_factory=lambda: AnalysisConfig(enabled=False))
    sessions: SessionsConfig = NO_SESSIONS  # no [sessions] table: a switch moves everyone
    path: str = ""  # where it was loaded from (not a TOML key)
    # The directory of services this one belongs to (config/fleet.py); "" = a single file. What
    # the console starts for the host (the agent) is started on it, never on one service's file.
    fleet_path: str = ""
    secret_values: tuple[str, ...] = ()  # resolved secrets, for redaction (not a TOML key)

    @property
    def host_config_path(self) -> str:
        """The configuration to start host-wide processes (the agent) with."""
        return self.fleet_path or self.path

    def slot(self, color: Color) -> SlotConfig:
        return self.slots[color]

    @property
    def admin_socket_path(self) -> str:
        """The proxy's admin socket, with its kind's default filled in."""
        return self.proxy.admin_socket_path(self.state_dir, bool(self.watchers_group))

    @property
    def head_db_url(self) -> str:
        return self.source.host_db_url or self.source.db_url

    @property
    def catchup(self) -> bool:
        """Whether this service re-indexes: a candidate height, a head, lag, ETA."""
        return not isinstance(self.candidate, NoSource)

    @property
    def effective_head(self) -> HeadSpec | None:
        """The independent head the gate trusts; None = each colour's self-reported head (or no
        catch-up at all). Without [head], an SQL candidate keeps today's default head query."""
        if self.head is not None or not self.catchup:
            return self.head
        if isinstance(self.candidate, SqlSource):
            return SqlSource(query=DEFAULT_HEAD_QUERY)
        return None
