"""Images from a registry, mixed into DockerRuntime: which credentials a pull sends, the pull
itself (timed, sized) and the sentence an operator reads when the registry turns it away.

Credentials come from `[registry]` (console/core/config/registry.py): the configuration's
username and password (a secret from the secrets file), sent only to their own registry; else
what `docker login` wrote to the engine's client configuration (`auths`, credential helpers),
resolved here with the SDK's own reader so the source can be named. The engine receives them in
the X-Registry-Auth header of its pull, which Podman's Docker API takes too; they are never
logged, and every engine error is redacted (the password is among the config's secrets).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.auth
import docker.errors
import docker.utils

from console.core.config.registry import (
    RegistryConfig,
    credentials_server,
    registry_of,
    same_registry,
)
from console.core.contracts.runtime import ImageArrival, ImageNotFound, RegistryRefused
from console.core.redact import Redactor

# Substrings of the engine's pull errors (Docker 20-27, Podman 4-5) that mean "who are you?".
_REFUSED = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "incorrect username or password",
    "access denied",
    "denied:",
)
_UNTRUSTED = ("x509:", "certificate signed by unknown authority", "certificate is not valid")

SECRETS = "secrets"
ENGINE_CONFIG = "engine config"
NONE = "none"


@dataclass(frozen=True)
class Credentials:
    """What one pull sends, and where it came from (for the sentence, never the password)."""

    registry: str
    source: str  # SECRETS, ENGINE_CONFIG or NONE
    username: str = ""
    where: str = ""  # the engine config file they were read from
    auth: dict[str, str] = field(default_factory=dict, repr=False)  # {} = anonymous


def credentials_for(ref: str, config: RegistryConfig, repository: str) -> Credentials:
    """The credentials to pull `ref` with: the configuration's for their own registry, else the
    engine config's entry for the image's registry, else none."""
    registry = registry_of(ref)
    if config.from_secrets and same_registry(registry, credentials_server(config, repository)):
        auth = {
            "username": config.username,
            "password": config.password,
            "serveraddress": registry,
        }
        return Credentials(registry, SECRETS, config.username, auth=auth)
    path = engine_config_path(config.docker_config)
    try:
        found = docker.auth.load_config(config_path=path or None).resolve_authconfig(registry)
    except docker.errors.DockerException:  # a credential helper that fails: pull anonymously
        found = None
    if not found:
        return Credentials(registry, NONE)
    auth = {str(k): str(v) for k, v in found.items() if v}
    auth.setdefault("serveraddress", registry)
    where = path or _default_engine_config() or "the engine config"
    return Credentials(registry, ENGINE_CONFIG, auth.get("username", ""), where=where, auth=auth)


def engine_config_path(configured: str) -> str:
    """`[registry] docker_config` as a file: a directory means its config.json."""
    if configured and os.path.isdir(configured):
        return os.path.join(configured, "config.json")
    return configured


def _default_engine_config() -> str:
    from docker.utils.config import find_config_file

    return str(find_config_file() or "")


def refusal(ref: str, creds: Credentials, engine_error: str) -> str | None:
    """The sentence for a pull the registry turned away, or None when it was something else."""
    text = engine_error.lower()
    registry = creds.registry
    if any(mark in text for mark in _UNTRUSTED):
        return (
            f"This host does not trust the TLS certificate of registry {registry} (pulling "
            f"{ref}): put the CA that signed it in /etc/docker/certs.d/{registry}/ca.crt "
            f"(Podman: /etc/containers/certs.d/{registry}/ca.crt) and retry."
        )
    if not any(mark in text for mark in _REFUSED):
        return None
    if creds.source == SECRETS:
        return (
            f"Registry {registry} refused the password of user {creds.username} from "
            f"[registry] (pulling {ref}): correct the password in the secrets file (or the "
            "environment variable [registry] password names) and retry."
        )
    if creds.source == ENGINE_CONFIG:
        return (
            f"Registry {registry} refused the credentials of user {creds.username or '?'} in "
            f"{creds.where} (pulling {ref}): run `docker login {registry}` again as the user "
            "bluegreen runs as, with the right password, and retry."
        )
    return (
        f"Registry {registry} wants a login to pull {ref} and bluegreen has no credentials for "
        f"it: set [registry] username and password (the password from the secrets file), or run "
        f"`docker login {registry}` as the user bluegreen runs as, then retry."
    )


class RegistryMixin:
    """Needs the runtime's bounded `_call`, `_image_id`, `_load`, `_explain` and its bounds."""

    _call: Callable[..., Any]
    _image_id: Callable[[str], str | None]
    _load: Callable[[str, str], None]
    _explain: Callable[[docker.errors.DockerException], str]
    _redactor: Redactor
    image_timeout: float
    registry: RegistryConfig
    repository: str  # [image] repository: the registry [registry] server defaults to

    def provide_image(self, ref: str, tar_path: str | None = None) -> ImageArrival:
        """Make `ref` present on this host and say how: already there, loaded from `tar_path`
        (a `docker save` archive), or pulled with its registry's credentials."""
        image_id = self._image_id(ref)
        if image_id:
            return ImageArrival(image_id, "present", 0.0, self._size(ref), finished_at=time.time())
        started = time.monotonic()
        if tar_path:
            self._load(ref, tar_path)
            image_id = self._image_id(ref)
            if not image_id:
                raise ImageNotFound(
                    f"{tar_path} was loaded but does not contain {ref}. Check the tag it was "
                    f"saved with (`docker load -i {tar_path}` lists it) or fix the image reference."
                )
            seconds = time.monotonic() - started
            return ImageArrival(
                image_id, "loaded", seconds, self._size(ref), finished_at=time.time()
            )
        creds = credentials_for(ref, self.registry, self.repository)
        self._pull(ref, creds)
        seconds, finished_at = time.monotonic() - started, time.time()
        return ImageArrival(
            self._image_id(ref) or ref,
            "pulled",
            seconds,
            self._size(ref),
            registry=creds.registry,
            credentials=creds.source,
            finished_at=finished_at,
        )

    def _pull(self, ref: str, creds: Credentials) -> None:
        repository, tag = docker.utils.parse_repository_tag(ref)

        def pull(client: docker.DockerClient) -> None:
            # The stream reports some failures as an "error" line after a 200, others as the
            # HTTP error itself; both end up here as one message. An explicit auth ({} =
            # anonymous) keeps the SDK from adding credentials of its own choosing.
            for line in client.api.pull(
                repository, tag=tag or "latest", stream=True, decode=True, auth_config=creds.auth
            ):
                if isinstance(line, dict) and line.get("error"):
                    raise docker.errors.APIError(str(line["error"]))

        try:
            self._call(pull, self.image_timeout)
        except docker.errors.APIError as exc:
            engine_error = self._explain(exc)
            sentence = refusal(ref, creds, engine_error)
            if sentence:
                raise RegistryRefused(self._redactor.redact(sentence)) from None
            raise ImageNotFound(
                f"Image {ref} is not on this host and could not be pulled ({engine_error}). "
                "Load it from a file (`docker load -i FILE`, or give its tar path) or make its "
                "registry reachable, then retry."
            ) from None

    def _size(self, ref: str) -> int | None:
        with contextlib.suppress(docker.errors.DockerException):
            size = self._call(lambda client: client.api.inspect_image(ref)).get("Size")
            return int(size) if size is not None else None
        return None
