"""Configuration: a TOML file validated into frozen dataclasses.

Precedence: `--config PATH` > `$BLUEGREEN_CONFIG` > `./bluegreen.toml` >
`/etc/bluegreen/config.toml`.
Secrets are never written in the file: `${NAME}` is looked up in the environment, then in the
optional `secrets_file` (KEY=VALUE lines, mode 0600). Errors name the key path and suggest the
nearest valid key, and never echo a secret's value. The coercion lives in config_coerce.py, the
progress sources (`[head]`, `[candidate]`, `[[readiness.checks]]`) in config_sources.py.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from console.core.config_coerce import ConfigError, SecretResolver, build
from console.core.config_sources import (
    DEFAULT_CANDIDATE_QUERY,
    DEFAULT_HEAD_QUERY,
    CandidateSource,
    HeadSource,
    HttpSource,
    JsonRpcSource,
    LogSource,
    NoSource,
    PrometheusSource,
    ReadinessCheck,
    SqlSource,
    reported_head,
    source_problems,
    url_template_problem,
)
from console.core.model import COLORS, Color

__all__ = [
    "CandidateSource",
    "Config",
    "ConfigError",
    "HeadSource",
    "HttpSource",
    "JsonRpcSource",
    "LogSource",
    "NoSource",
    "PrometheusSource",
    "ReadinessCheck",
    "SqlSource",
    "load_config",
    "parse_config",
]

CONFIG_ENV = "BLUEGREEN_CONFIG"
DEFAULT_PATHS = (Path("bluegreen.toml"), Path("/etc/bluegreen/config.toml"))
# The explorer's own "I have caught up" line: the default only where something re-indexes.
DEFAULT_LOG_PATTERN = "catchup completed"
HAPROXY_DEFAULT_SOCKET = "/run/haproxy/admin.sock"
NGINX_ADMIN_SOCKET = "nginx-admin.sock"  # in the state dir, which bluegreen owns
_UNIX_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL


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
    # Empty the idle colour's database (DROP SCHEMA public CASCADE) before starting a new version,
    # for services that only re-index from scratch. Never touches the live colour's database.
    reset_database: bool = False
    start_timeout_seconds: float = 120.0  # no first height by then → the deployment failed


@dataclass(frozen=True)
class SlotConfig:
    container: str = ""
    host_port: int = 0  # published on 127.0.0.1 only
    db_url: str = ""  # this colour's destination database (secret), as its container reaches it
    host_db_url: str = ""  # the same database as this host reaches it; "" = db_url
    env: dict[str, str] = field(default_factory=dict)

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
    log_pattern: str = DEFAULT_LOG_PATTERN  # "" = not required; default "" without catch-up
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
    checks: list[ReadinessCheck] = field(default_factory=list)  # [[readiness.checks]]


@dataclass(frozen=True)
class ProxyConfig:
    kind: Literal["nginx", "haproxy"] = "nginx"
    mode: Literal["live", "reload"] = "live"
    include_dir: str = "/etc/nginx/bluegreen"
    proxy_url: str = "http://127.0.0.1:80"
    probe_path: str = "/health"
    # nginx live mode, opt-in only: a TCP admin endpoint (e.g. "http://127.0.0.1:8099") that
    # requires the generated token. "" = the unix socket only (the default).
    admin_url: str = ""
    test_command: list[str] = field(default_factory=lambda: ["nginx", "-t"])
    reload_command: list[str] = field(default_factory=lambda: ["nginx", "-s", "reload"])
    verify_timeout_seconds: float = 10.0
    # nginx live mode: the admin endpoint's unix socket ("" = state_dir/nginx-admin.sock);
    # haproxy: the runtime API socket ("" = /run/haproxy/admin.sock).
    admin_socket: str = ""
    backend: str = "bluegreen"  # haproxy backend holding servers named blue and green


@dataclass(frozen=True)
class SwitchConfig:
    policy: Literal["confirm", "auto", "never"] = "confirm"
    watch_seconds: float = 300.0  # post-switch window watched for automatic rollback
    auto_rollback: bool = True
    keep_previous_seconds: float = 0.0  # 0 = keep the previous colour running until next deploy


@dataclass(frozen=True)
class NotifyConfig:
    webhook_url: str = ""  # Slack-compatible incoming webhook (secret); "" = off
    every_blocks: int = 1_000_000
    eta_warning_seconds: float = 900.0
    min_interval_seconds: float = 30.0
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class RuntimeConfig:
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
    image: ImageConfig = field(default_factory=ImageConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    # None = no [head] table: the candidate's self-reported head, else the default SQL head.
    head: HeadSource | None = None
    candidate: CandidateSource = field(default_factory=NoSource)
    slots: dict[str, SlotConfig] = field(default_factory=dict)
    readiness: ReadinessConfig = field(default_factory=ReadinessConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    path: str = ""  # where it was loaded from (not a TOML key)
    secret_values: tuple[str, ...] = ()  # resolved secrets, for redaction (not a TOML key)

    def slot(self, color: Color) -> SlotConfig:
        return self.slots[color]

    @property
    def admin_socket_path(self) -> str:
        """The proxy's admin socket, with the per-kind default filled in."""
        if self.proxy.admin_socket:
            return self.proxy.admin_socket
        if self.proxy.kind == "haproxy":
            return HAPROXY_DEFAULT_SOCKET
        return str(Path(self.state_dir) / NGINX_ADMIN_SOCKET)

    @property
    def head_db_url(self) -> str:
        return self.source.host_db_url or self.source.db_url

    @property
    def catchup(self) -> bool:
        """Whether this service re-indexes: a candidate height, a head, lag, ETA."""
        return not isinstance(self.candidate, NoSource)

    @property
    def effective_head(self) -> HeadSource | None:
        """The independent head the gate trusts; None = each colour's self-reported head (or no
        catch-up at all). Without [head], an SQL candidate keeps today's default head query."""
        if self.head is not None or not self.catchup:
            return self.head
        if isinstance(self.candidate, SqlSource) and not reported_head(self.candidate):
            return SqlSource(query=DEFAULT_HEAD_QUERY)
        return None

    def candidate_query(self) -> str:
        query = self.candidate.query if isinstance(self.candidate, SqlSource) else ""
        return query or DEFAULT_CANDIDATE_QUERY


def find_config_path(explicit: str | None = None) -> Path:
    """Apply the discovery order; raise ConfigError listing what was tried."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    for candidate in DEFAULT_PATHS:
        if candidate.exists():
            return candidate
    tried = ", ".join(str(p) for p in DEFAULT_PATHS)
    raise ConfigError(
        f"No configuration found: tried --config, ${CONFIG_ENV}, {tried}. Copy "
        "config.example.toml to ./bluegreen.toml and edit it, or run `bluegreen sandbox up` for a "
        "local one."
    )


def load_config(explicit: str | None = None) -> Config:
    path = find_config_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {path} does not exist. Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc}.") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path = Path("<config>")) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}). Fix the syntax and retry.") from None
    secrets = SecretResolver(raw.get("secrets_file", ""), path)
    config: Config = build(Config, raw, "", secrets)
    readiness_raw = raw.get("readiness")
    log_pattern_given = isinstance(readiness_raw, dict) and "log_pattern" in readiness_raw
    if not config.catchup and not log_pattern_given:
        # The explorer's log line means nothing to a service that does not re-index.
        config = dataclasses.replace(
            config, readiness=dataclasses.replace(config.readiness, log_pattern="")
        )
    config = dataclasses.replace(config, path=str(path), secret_values=tuple(secrets.used))
    _validate(config, path, _lag_keys_without_catchup(config, readiness_raw))
    return config


def _lag_keys_without_catchup(config: Config, readiness_raw: object) -> list[str]:
    """A lag rule in a config with no [candidate] would silently do nothing, and the colour would
    go live without the hold its author asked for: say so instead."""
    if config.catchup or not isinstance(readiness_raw, dict):
        return []
    given = [f"readiness.{key}" for key in ("max_lag", "hold_seconds") if key in readiness_raw]
    if not given:
        return []
    return [
        f"{' and '.join(given)} only apply to a service that re-indexes, and there is no "
        '[candidate]: add one (e.g. [candidate] kind = "sql" for the explorer\'s watermark) or '
        "remove them (readiness.min_ready_seconds holds a plain service)"
    ]


def _validate(config: Config, path: Path, problems: list[str] | None = None) -> None:
    problems = (problems or []) + _slot_problems(config) + _source_problems(config)
    readiness = config.readiness
    if readiness.log_pattern:
        try:
            re.compile(readiness.log_pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999} overflows
            problems.append(f"readiness.log_pattern is not a valid regular expression ({exc})")
    if readiness.max_lag < 0:
        problems.append("readiness.max_lag must be 0 or more")
    if readiness.sample_interval_seconds <= 0:
        problems.append("readiness.sample_interval_seconds must be above 0")
    if readiness.min_ready_seconds < 0:
        problems.append("readiness.min_ready_seconds must be 0 or more")
    for index, check in enumerate(readiness.checks):
        where = f"readiness.checks[{index}]"
        if not check.url:
            problems.append(f"{where}.url is empty: give the URL to check")
        else:
            problem = url_template_problem(check.url, f"{where}.url", per_colour=True)
            if problem:
                problems.append(problem)
        if not 100 <= check.expect_status <= 599:
            problems.append(f"{where}.expect_status must be an HTTP status, 100-599")
    if not config.image.command and not config.image.repository:
        problems.append("[image] needs at least a repository (so `deploy TAG` knows what to run)")
    if config.proxy.kind == "nginx" and not config.proxy.include_dir:
        problems.append("proxy.include_dir is empty: name the directory bluegreen owns in nginx")
    problems += _proxy_admin_problems(config)
    host = config.runtime.docker_host
    if host and not host.startswith(("unix://", "tcp://", "ssh://", "http://", "https://")):
        problems.append(
            f"runtime.docker_host '{host}' is not an engine address: use unix:///PATH, "
            "tcp://HOST:PORT or ssh://USER@HOST"
        )
    for name, limits in config.runtime.ulimits.items():
        soft, _, hard = limits.partition(":")
        if not (soft.isdigit() and hard.isdigit() and int(soft) <= int(hard)):
            problems.append(f"runtime.ulimits.{name} must be 'SOFT:HARD' (numbers, soft ≤ hard)")
    if config.metrics.listen:
        problem = listen_problem(config.metrics.listen, config.metrics.allow_remote)
        if problem:
            problems.append(f"metrics.listen: {problem}")
    if problems:
        raise ConfigError(
            f"{path}: " + "; ".join(problems) + ". Fix these and run `bluegreen config check`."
        )


def _slot_problems(config: Config) -> list[str]:
    problems: list[str] = []
    missing = [c for c in COLORS if c not in config.slots]
    extra = [c for c in config.slots if c not in COLORS]
    if extra:
        problems.append(
            f"slots.{extra[0]} is not a colour: the slots are [slots.blue] and [slots.green]"
        )
    if missing:
        problems.append(
            f"[slots.{missing[0]}] is missing: define both [slots.blue] and [slots.green]"
        )
    if problems:
        return problems
    blue, green = config.slots["blue"], config.slots["green"]
    needs_db, why = _colour_database_use(config)
    for color, slot in config.slots.items():
        if not slot.container:
            problems.append(f"slots.{color}.container is empty: name the container")
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", slot.container):
            problems.append(
                f"slots.{color}.container '{slot.container}' is not a valid container name"
            )
        if not 1 <= slot.host_port <= 65535:
            problems.append(f"slots.{color}.host_port must be 1-65535")
        if needs_db and not slot.db_url:
            problems.append(
                f"slots.{color}.db_url is empty ({why}): give this colour's database URL"
            )
    if blue.container == green.container and blue.container:
        problems.append("slots.blue.container and slots.green.container must differ")
    if blue.host_port == green.host_port:
        problems.append("slots.blue.host_port and slots.green.host_port must differ")
    return problems


def _colour_database_use(config: Config) -> tuple[bool, str]:
    """Whether something uses each colour's database, and what (database URLs are only required
    where used: a plain web service has none)."""
    if isinstance(config.candidate, SqlSource) and not config.candidate.url:
        return True, "the [candidate] query runs on it"
    if config.image.reset_database:
        return True, "image.reset_database empties it"
    if any("{dest_db_url}" in part for part in config.image.command) or any(
        "{dest_db_url}" in value for value in config.image.env.values()
    ):
        return True, "image.command or image.env passes {dest_db_url}"
    return False, ""


def _source_problems(config: Config) -> list[str]:
    problems: list[str] = []
    head = config.effective_head
    if head is not None:
        problems += source_problems(head, "head", "head")
    problems += source_problems(config.candidate, "candidate", "candidate")
    uses_source_db = isinstance(head, SqlSource) and not head.url
    passes_source_db = any("{source_db_url}" in part for part in config.image.command) or any(
        "{source_db_url}" in value for value in config.image.env.values()
    )
    if (uses_source_db or passes_source_db) and not config.source.db_url:
        why = "the [head] query runs on it" if uses_source_db else "image.command passes it"
        problems.append(f"source.db_url is empty ({why}): give the chain's event database URL")
    if config.catchup and head is None and not reported_head(config.candidate):
        problems.append(
            f'[candidate] kind = "{config.candidate.kind}" needs a chain head to compare with: '
            "add a [head] source, or a head_field/head_metric the candidate reports"
        )
    if config.head is not None and not config.catchup:
        problems.append(
            "[head] is set but there is no [candidate] to compare it with: add a [candidate] "
            "source, or remove [head] for a service that does not re-index"
        )
    return problems


def _proxy_admin_problems(config: Config) -> list[str]:
    problems: list[str] = []
    if len(os.fsencode(config.admin_socket_path)) > _UNIX_PATH_MAX:
        problems.append(
            f"the proxy admin socket path {config.admin_socket_path} is longer than "
            f"{_UNIX_PATH_MAX} bytes, which unix sockets cannot have: set proxy.admin_socket "
            "to a shorter path in a directory bluegreen owns"
        )
    url = config.proxy.admin_url
    if url and not re.fullmatch(r"http://[^/:]+:\d{1,5}/?", url):
        problems.append(
            f"proxy.admin_url '{url}' must look like http://127.0.0.1:8099 (or be empty to use "
            "the unix socket)"
        )
    return problems


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT ("127.0.0.1:9464", "[::1]:9464", ":9464" = loopback) → (host, port);
    ValueError otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"'{text}' is not HOST:PORT (e.g. 127.0.0.1:9464)")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text)


def listen_problem(text: str, allow_remote: bool) -> str | None:
    """Why `text` cannot be listened on, or None. Non-loopback needs `allow_remote`."""
    try:
        host, _ = parse_listen(text)
    except ValueError as exc:
        return str(exc)
    if allow_remote or host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return f"'{host}' is not an IP address: give a loopback address such as 127.0.0.1"
    if not loopback:
        return (
            f"{host} is not a loopback address; the exporter has no authentication, so it "
            "listens on loopback only unless metrics.allow_remote = true"
        )
    return None
