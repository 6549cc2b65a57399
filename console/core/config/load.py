"""Find, read and check the configuration file.

Precedence: `--config PATH` > `$BLUEGREEN_CONFIG` > `./bluegreen.toml` >
`/etc/bluegreen/config.toml` > `/etc/bluegreen/host.toml`. PATH may be a directory of several
services (config/fleet.py reads those).
Secrets are never written in the file: `${NAME}` is looked up in the environment, then in the
optional `secrets_file` (KEY=VALUE lines, mode 0600). Errors name the key path and suggest the
nearest valid key, and never echo a secret's value.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

from console.core.config.checks import config_analysis_problems, lag_keys_without_catchup, validate
from console.core.config.coerce import ConfigError, SecretResolver, build
from console.core.config.schema import Config

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_PATHS",
    "ConfigError",
    "config_from_raw",
    "find_config_path",
    "load_config",
    "parse_config",
    "read_toml",
]

CONFIG_ENV = "BLUEGREEN_CONFIG"
# A file is one service; /etc/bluegreen/host.toml heads a directory of several (config/fleet.py).
DEFAULT_PATHS = (
    Path("bluegreen.toml"),
    Path("/etc/bluegreen/config.toml"),
    Path("/etc/bluegreen/host.toml"),
)


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


def load_config(explicit: str | None = None, watching: bool = False) -> Config:
    """`watching`: for read-only commands, which work without the secrets (see SecretResolver)."""
    path = find_config_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {path} does not exist. Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc}.") from None
    return parse_config(text, path, watching)


def parse_config(text: str, path: Path = Path("<config>"), watching: bool = False) -> Config:
    return config_from_raw(read_toml(text, path), path, watching)


def read_toml(text: str, path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}). Fix the syntax and retry.") from None


def config_from_raw(
    raw: dict[str, object], path: Path, watching: bool = False, secrets_base: Path | None = None
) -> Config:
    """One service's Config from its TOML tables; `secrets_base`: the file a relative
    `secrets_file` is relative to (a fleet's host.toml; else `path`)."""
    secrets = SecretResolver(raw.get("secrets_file", ""), secrets_base or path, watching)
    config: Config = build(Config, raw, "", secrets)
    readiness_raw = raw.get("readiness")
    config = dataclasses.replace(config, path=str(path), secret_values=tuple(secrets.used))
    problems = lag_keys_without_catchup(config, readiness_raw) + config_analysis_problems(config)
    validate(config, path, problems)
    return config
