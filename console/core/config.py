"""Configuration: a TOML file validated into frozen dataclasses.

Precedence: `--config PATH` > `$BLUEGREEN_CONFIG` > `./bluegreen.toml` >
`/etc/bluegreen/config.toml`.
Secrets are never written in the file: `${NAME}` is looked up in the environment, then in the
optional `secrets_file` (KEY=VALUE lines, mode 0600). Errors name the key path and suggest the
nearest valid key, and never echo a secret's value.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from console.core.model import COLORS, Color

CONFIG_ENV = "BLUEGREEN_CONFIG"
DEFAULT_PATHS = (Path("bluegreen.toml"), Path("/etc/bluegreen/config.toml"))
HAPROXY_DEFAULT_SOCKET = "/run/haproxy/admin.sock"
NGINX_ADMIN_SOCKET = "nginx-admin.sock"  # in the state dir, which bluegreen owns
_UNIX_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A configuration problem, phrased for the operator: what is wrong, where, what to do."""


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
class HeadConfig:
    kind: Literal["sql", "http"] = "sql"
    query: str = "SELECT MAX(height) - 1 FROM blocks"  # on source.db_url
    url: str = ""  # kind = "http": a JSON endpoint
    field: str = ""  # dotted path into the JSON, e.g. result.sync_info.latest_block_height


@dataclass(frozen=True)
class SourceConfig:
    db_url: str = ""  # the chain's event database (secret), as the containers reach it
    host_db_url: str = ""  # the same database as this host reaches it; "" = db_url


@dataclass(frozen=True)
class CandidateConfig:
    query: str = "SELECT height FROM index_watermarks WHERE index_name = 'explorer'"


@dataclass(frozen=True)
class ReadinessConfig:
    max_lag: int = 2
    hold_seconds: float = 5.0
    log_pattern: str = "catchup completed"  # "" = not required
    health_path: str = "/health"
    smoke_method: Literal["GET", "POST"] = "POST"
    smoke_path: str = ""  # "" = no smoke request
    smoke_body: str = ""
    not_behind_live: bool = True
    stall_seconds: float = 60.0
    sample_interval_seconds: float = 1.0
    statement_timeout_ms: int = 2000


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
class Config:
    service: str = "service"
    state_dir: str = "/var/lib/bluegreen"
    secrets_file: str = ""
    # Members of this group may act (state dir and files group-owned 0770/0660); "" = only the
    # owner of the state dir (and root).
    operators_group: str = ""
    image: ImageConfig = field(default_factory=ImageConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    candidate: CandidateConfig = field(default_factory=CandidateConfig)
    slots: dict[str, SlotConfig] = field(default_factory=dict)
    readiness: ReadinessConfig = field(default_factory=ReadinessConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
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


_NOT_KEYS = {"path", "secret_values"}
_SECRET_KEYS = {"db_url", "host_db_url", "webhook_url"}


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
    secrets = _SecretResolver(raw.get("secrets_file", ""), path)
    config: Config = _build(Config, raw, "", secrets)
    config = dataclasses.replace(config, path=str(path), secret_values=tuple(secrets.used))
    _validate(config, path)
    return config


class _SecretResolver:
    def __init__(self, secrets_file: object, config_path: Path) -> None:
        self.file_values: dict[str, str] = {}
        self.used: list[str] = []
        if isinstance(secrets_file, str) and secrets_file:
            file = Path(secrets_file)
            if not file.is_absolute():
                file = config_path.parent / file
            self.file_values = _read_env_file(file)

    def expand(self, value: str, key_path: str) -> str:
        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            found = os.environ.get(name, self.file_values.get(name))
            if found is None:
                raise ConfigError(
                    f"{key_path} refers to ${{{name}}}, which is not set. Export {name} in the "
                    "environment or add it to the secrets_file."
                )
            return found

        expanded = _ENV_REF.sub(lookup, value)
        if key_path.rsplit(".", 1)[-1] in _SECRET_KEYS and expanded:
            self.used.append(expanded)
        return expanded


def _read_env_file(file: Path) -> dict[str, str]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"secrets_file {file} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"secrets_file {file} is not UTF-8 text: point it at a file of KEY=VALUE lines."
        ) from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep:
            raise ConfigError(f"secrets_file {file} line {number} is not KEY=VALUE.")
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def _build(cls: type[Any], raw: object, key_path: str, secrets: _SecretResolver) -> Any:
    where = key_path or "the top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table (section), not {type(raw).__name__}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NOT_KEYS}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        sub_path = f"{key_path}.{key}" if key_path else key
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" Did you mean '{near[0]}'?" if near else ""
            valid = ", ".join(sorted(fields))
            raise ConfigError(f"Unknown key '{sub_path}'.{hint} Valid keys here: {valid}.")
        values[key] = _coerce(hints[key], value, sub_path, secrets)
    return cls(**values)


def _coerce(hint: Any, value: object, key_path: str, secrets: _SecretResolver) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast(type[Any], hint), value, key_path, secrets)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            near = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
            hint_text = f" Did you mean {near[0]!r}?" if near else ""
            raise ConfigError(
                f"{key_path} = {value!r} is not allowed: use one of {choices}.{hint_text}"
            )
        return value
    if origin is dict:
        _, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{key_path} must be a table of name = value, not {_kind(value)}.")
        return {
            str(k): _coerce(value_type, v, f"{key_path}.{k}", secrets) for k, v in value.items()
        }
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f'{key_path} must be a list, e.g. ["a", "b"], not {_kind(value)}.')
        return [_coerce(item_type, v, f"{key_path}[{i}]", secrets) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{key_path}: unsupported type")  # pragma: no cover - schema guard
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key_path} must be true or false, not {_kind(value)}.")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key_path} must be a whole number, not {_kind(value)}.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key_path} must be a number, not {_kind(value)}.")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key_path} must be a string in quotes, not {_kind(value)}.")
        return secrets.expand(value, key_path)
    raise ConfigError(f"{key_path}: unsupported type {hint!r}")  # pragma: no cover


def _kind(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


def _validate(config: Config, path: Path) -> None:
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
    if not problems:
        blue, green = config.slots["blue"], config.slots["green"]
        for color, slot in config.slots.items():
            if not slot.container:
                problems.append(f"slots.{color}.container is empty: name the container")
            elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", slot.container):
                problems.append(
                    f"slots.{color}.container '{slot.container}' is not a valid container name"
                )
            if not 1 <= slot.host_port <= 65535:
                problems.append(f"slots.{color}.host_port must be 1-65535")
            if not slot.db_url:
                problems.append(f"slots.{color}.db_url is empty: give this colour's database URL")
        if blue.container == green.container and blue.container:
            problems.append("slots.blue.container and slots.green.container must differ")
        if blue.host_port == green.host_port:
            problems.append("slots.blue.host_port and slots.green.host_port must differ")
    if not config.source.db_url:
        problems.append("source.db_url is empty: give the chain's event database URL")
    if config.head.kind == "http" and not (config.head.url and config.head.field):
        problems.append('head.kind = "http" needs head.url and head.field')
    if config.readiness.log_pattern:
        try:
            re.compile(config.readiness.log_pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999} overflows
            problems.append(f"readiness.log_pattern is not a valid regular expression ({exc})")
    if config.readiness.max_lag < 0:
        problems.append("readiness.max_lag must be 0 or more")
    if config.readiness.sample_interval_seconds <= 0:
        problems.append("readiness.sample_interval_seconds must be above 0")
    if not config.image.command and not config.image.repository:
        problems.append("[image] needs at least a repository (so `deploy TAG` knows what to run)")
    if config.proxy.kind == "nginx" and not config.proxy.include_dir:
        problems.append("proxy.include_dir is empty: name the directory bluegreen owns in nginx")
    problems += _proxy_admin_problems(config)
    if problems:
        raise ConfigError(
            f"{path}: " + "; ".join(problems) + ". Fix these and run `bluegreen config check`."
        )


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
