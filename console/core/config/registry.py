"""`[registry]`: where the credentials to pull a private image come from.

Two sources, as Kamal and `docker login` have them:

- **the configuration's secrets**: `username` and `password` (write `password = "${NAME}"` and put
  NAME in the `secrets_file`, mode 0600, or the environment), sent only to `server`;
- **the engine's own configuration**: without a username, the `auths` (and credential helpers)
  `docker login` wrote to `docker_config` (default: `$DOCKER_CONFIG/config.json`, else
  `~/.docker/config.json` of the user who runs bluegreen — under systemd, the agent's user).

`server` defaults to the registry named by `[image] repository`; credentials are never sent to a
registry other than theirs. The Docker driver (console/drivers/docker/registry.py) does the pull.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# host[:port], as `docker login` takes it (no scheme, no path).
_SERVER = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:]+\](?::\d{1,5})?$")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class RegistryConfig:
    server: str = ""  # "registry.example.com:5000"; "" = the registry of [image] repository
    username: str = ""  # "" = the engine's own credentials (docker_config)
    password: str = ""  # a secret: "${REGISTRY_PASSWORD}" from the secrets_file
    docker_config: str = ""  # config.json `docker login` wrote; "" = $DOCKER_CONFIG, ~/.docker

    @property
    def from_secrets(self) -> bool:
        return bool(self.username)


def registry_of(ref: str) -> str:
    """The registry an image reference pulls from, as Docker reads it: the first path part when
    it looks like a host (a '.', a ':' or 'localhost'), else Docker Hub."""
    name = ref.split("@", 1)[0]
    first, sep, _rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def same_registry(a: str, b: str) -> bool:
    hub = {DOCKER_HUB, "index.docker.io", "registry-1.docker.io"}
    return a == b or (a in hub and b in hub)


def credentials_server(config: RegistryConfig, repository: str) -> str:
    """The registry `username`/`password` belong to."""
    return config.server or registry_of(repository)


def registry_problems(config: RegistryConfig, repository: str) -> list[str]:
    problems = []
    if config.server and not _SERVER.match(config.server):
        problems.append(
            f"registry.server = {config.server!r} is not a registry address: write HOST or "
            "HOST:PORT, as for `docker login` (no https://, no path)"
        )
    if config.username and not config.password:
        problems.append(
            "registry.username is set without registry.password: add "
            'password = "${REGISTRY_PASSWORD}" and REGISTRY_PASSWORD to the secrets_file'
        )
    if config.password and not config.username:
        problems.append("registry.password is set without registry.username: add the user name")
    if config.username and config.docker_config:
        problems.append(
            "registry.docker_config is read only without registry.username: remove one of them "
            "(credentials come from the secrets, or from the engine's config)"
        )
    if config.username and not config.server and not repository:
        problems.append(
            "registry.username needs registry.server (or an [image] repository that names its "
            "registry): say which registry the credentials belong to"
        )
    return problems
