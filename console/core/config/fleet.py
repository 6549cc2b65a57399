"""Several services on one host: a configuration directory, read into one `Config` per service.

    /etc/bluegreen/            (or any directory given to --config)
      host.toml                host-wide: state_dir, secrets_file, the groups, [metrics], and the
                               defaults every service shares ([runtime], [notify], [proxy], …)
      explorer.toml            one file per service; the file's name is the service's name
      web.toml

Adding a service is dropping in one file. A service file holds the same tables a single-file
configuration has; host.toml's tables are its defaults, key by key. What must differ between
services is derived from the name when a file does not say: the state directory
(`<state_dir>/<name>`), the proxy's include directory (`<include_dir>/<name>`), the names the
proxy knows the service by, and HAProxy's backend. Two services that still claim one thing (a
host port, a container, an include, a database, an admin socket) are an error naming both.

A single file (today's form) is a fleet of one: its service and state directory are unchanged.

A service file that does not parse or fails its checks is *skipped* with its error; the others
load. Each caller decides what a skipped service means: the agent watches the others and says
which it skipped; `config check` fails.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from console.core.config.coerce import ConfigError
from console.core.config.load import config_from_raw, find_config_path, read_toml
from console.core.config.schema import Config

HOST_FILE = "host.toml"
# Keys only host.toml may set: one agent, one state directory, one secrets file for the host.
HOST_ONLY_KEYS = ("state_dir", "secrets_file", "operators_group", "watchers_group", "metrics")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Fleet:
    """Every service configured on this host, by name (sorted), and the ones skipped."""

    path: str  # the file or directory it was read from
    state_dir: str  # the host's: the agent's lease and pid file live here
    services: dict[str, Config] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # name → why (one paragraph)
    directory: bool = False  # several-service form (a directory), even with one file in it

    @property
    def names(self) -> list[str]:
        return list(self.services)

    def __iter__(self) -> Iterator[Config]:
        return iter(self.services.values())

    def service(self, name: str | None) -> Config:
        """The named service; without a name, the only one. Otherwise a ConfigError that lists
        the names (the CLI exits 2 with it)."""
        if name:
            if name in self.services:
                return self.services[name]
            if name in self.skipped:
                raise ConfigError(self.skipped[name])
            raise ConfigError(
                f"There is no service '{name}' in {self.path}. Configured: {_listing(self.names)}."
            )
        if len(self.services) == 1 and not self.skipped:
            return next(iter(self.services.values()))
        if not self.services:
            problems = " ".join(self.skipped.values())
            raise ConfigError(f"No service in {self.path} could be loaded. {problems}".strip())
        raise ConfigError(
            f"Several services are configured ({_listing(self.names + list(self.skipped))}): "
            "name one with --service NAME (or -s NAME)."
        )


def _listing(names: list[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def load_fleet(explicit: str | None = None, watching: bool = False) -> Fleet:
    """The fleet at `explicit` (a file or a directory), found like `load_config` finds a file."""
    path = find_config_path(explicit)
    if path.is_dir():
        return read_directory(path, watching)
    if path.name == HOST_FILE:  # /etc/bluegreen/host.toml: the directory it heads
        return read_directory(path.parent, watching)
    if not path.exists():
        raise ConfigError(f"Configuration file {path} does not exist. Check the path.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc}.") from None
    config = config_from_raw(read_toml(text, path), path, watching)
    return Fleet(str(path), config.state_dir, {config.service: config})


def read_directory(directory: Path, watching: bool = False) -> Fleet:
    host_path = directory / HOST_FILE
    host = _read(host_path) if host_path.exists() else {}
    files = sorted(p for p in directory.glob("*.toml") if p.name != HOST_FILE)
    if not host_path.exists() and not files:
        raise ConfigError(
            f"{directory} holds no configuration: add {HOST_FILE} (host-wide settings) and one "
            "NAME.toml per service."
        )
    state_dir = str(host.get("state_dir", "/var/lib/bluegreen"))
    services: dict[str, Config] = {}
    skipped: dict[str, str] = {}
    for file in files:
        name = file.stem
        try:
            services[name] = _service(name, file, host, host_path, state_dir, watching)
        except ConfigError as exc:
            skipped[name] = f"Service {name} ({file}) skipped: {exc}"
    for name, clash in _clashes(services):
        del services[name]
        skipped[name] = f"Service {name} ({directory / (name + '.toml')}) skipped: {clash}"
    return Fleet(str(directory), state_dir, services, skipped, directory=True)


def _read(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read configuration file {path}: {exc}.") from None
    return read_toml(text, path)


def _service(
    name: str, file: Path, host: dict[str, object], host_path: Path, state_dir: str, watching: bool
) -> Config:
    if not _NAME.match(name):
        raise ConfigError(
            f"'{name}' is not a service name: use lower-case letters, digits, - and _ (at most "
            "40, starting with a letter or digit), and rename the file."
        )
    own = _read(file)
    for key in HOST_ONLY_KEYS:
        if key in own:
            raise ConfigError(f"{key} is host-wide: set it in {host_path}, not in {file}.")
    if own.get("service", name) != name:
        raise ConfigError(
            f"it says service = '{own['service']}', but a service is named by its file: rename "
            f"the file to {own['service']}.toml or remove the key."
        )
    raw = _merged(host, own)
    raw["service"] = name
    raw["state_dir"] = str(Path(state_dir) / name)
    proxy = dict(_table(raw.get("proxy")))
    own_proxy = _table(own.get("proxy"))
    if "include_dir" not in own_proxy:
        shared = Path(str(proxy.get("include_dir", "/etc/nginx/bluegreen")))
        proxy["include_dir"] = str(shared / name)
    proxy.setdefault("name", "bluegreen_" + name.replace("-", "_"))
    if proxy.get("kind") == "haproxy" and "backend" not in own_proxy:
        proxy["backend"] = name
    raw["proxy"] = proxy
    config = config_from_raw(raw, file, watching, secrets_base=host_path)
    return dataclasses.replace(config, fleet_path=str(file.parent))


def _table(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _merged(base: dict[str, object], own: dict[str, object]) -> dict[str, object]:
    """`own` over `base`, table by table (a list or a value replaces the host's whole)."""
    merged = dict(base)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(_table(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _claims(config: Config) -> Iterator[tuple[str, str]]:
    """What one service holds that no other may: (what, value)."""
    for color, slot in config.slots.items():
        if slot.container:
            yield f"the container name ({color})", slot.container
        if slot.host_port:
            yield f"the host port ({color})", str(slot.host_port)
        for url in {slot.db_url, slot.sampling_db_url} - {""}:
            yield f"the database ({color})", _database(url)
    yield "the proxy include directory", str(Path(config.proxy.include_dir).resolve())
    yield "the proxy name", config.proxy.prefix
    yield "the proxy admin socket and backend", f"{config.admin_socket_path} {_backend(config)}"


def _backend(config: Config) -> str:
    return str(getattr(config.proxy, "backend", ""))


def _database(url: str) -> str:
    """host:port/name, without the credentials (never shown)."""
    parts = urlsplit(url)
    return f"{parts.hostname or ''}:{parts.port or ''}{parts.path}"


def _clashes(services: dict[str, Config]) -> list[tuple[str, str]]:
    """(skipped name, why) for each service claiming what an earlier one (by name) holds."""
    held: dict[tuple[str, str], str] = {}
    clashes: list[tuple[str, str]] = []
    for name, config in services.items():
        mine = list(_claims(config))
        other = next(((w, v, held[(w, v)]) for w, v in mine if (w, v) in held), None)
        if other is not None:
            what, value, owner = other
            clashes.append(
                (
                    name,
                    f"{what} {value} is also service {owner}'s: give each service its own, in "
                    f"{name}.toml or {owner}.toml.",
                )
            )
            continue
        held.update({claim: name for claim in mine})
    return clashes
