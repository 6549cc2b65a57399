"""One installation: the config plus the parts built from it, created lazily and shared.

Drivers are built on first use so that a read-only watcher never opens a Docker or proxy
connection it does not need, and so a part that is down degrades only what depends on it.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from console.core.access import may_write_state
from console.core.config.schema import Config
from console.core.lock import AgentLease, OperatorLock
from console.core.measures.parity import ParitySampler
from console.core.redact import Redactor
from console.core.store.store import Store

if TYPE_CHECKING:
    from console.drivers.docker.runtime import DockerRuntime
    from console.drivers.notify import Notifier
    from console.drivers.proxy import ProxyDriver

LABEL_SERVICE = "bluegreen.service"
LABEL_COLOR = "bluegreen.color"
LABEL_DEPLOYMENT = "bluegreen.deployment"
LABEL_VERSION = "bluegreen.version"
_IMAGE_REF = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?"  # optional registry host[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"  # path
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"  # :tag @digest
)


def validate_image_ref(image: str) -> str:
    """Reject anything that is not a Docker image reference (it never reaches a shell, but a
    clear early error beats a confusing one from the engine)."""
    ref = image.strip()
    if not ref or len(ref) > 255 or not _IMAGE_REF.match(ref):
        raise ValueError(
            f"'{image}' is not a valid image reference: use NAME[:TAG], e.g. explorer:v1.5.0."
        )
    return ref


def image_version(image: str) -> str:
    """The tag of `repo:tag` (or the digest's start), shown as the version."""
    if "@" in image:
        return image.split("@", 1)[1][7:19]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class Installation:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)

    @cached_property
    def redactor(self) -> Redactor:
        return Redactor(self.config.secret_values)

    @cached_property
    def store(self) -> Store:
        if not may_write_state(self.state_dir):  # a watcher: read it, never create or write
            return Store.open_read_only(self.state_dir, redact=self.redactor.redact)
        return Store.open(self.state_dir, redact=self.redactor.redact)

    @cached_property
    def lock(self) -> OperatorLock:
        return OperatorLock(self.state_dir)

    @cached_property
    def agent_lease(self) -> AgentLease:
        return AgentLease(self.state_dir)

    @cached_property
    def runtime(self) -> DockerRuntime:
        from console.drivers.docker.runtime import DockerRuntime

        # [runtime] docker_host, else $DOCKER_HOST, else the local socket (DockerRuntime.where).
        return DockerRuntime(self.config.runtime.docker_host or None, redactor=self.redactor)

    @cached_property
    def proxy(self) -> ProxyDriver:
        from console.drivers.proxy import make_proxy

        return make_proxy(self.config)

    @cached_property
    def notifier(self) -> Notifier:
        from console.drivers.notify import Notifier

        return Notifier(self.config.notify, self.config.service, self.redactor)

    @cached_property
    def parity(self) -> ParitySampler | None:
        """Both colours compared at a pinned height; None without [[parity]]."""
        from console.drivers.parity import make_parity_sampler

        return make_parity_sampler(self.config, self.redactor)

    def resolve_image(self, image: str) -> str:
        """`v2` alone means the configured repository's tag v2."""
        ref = image.strip()
        bare_tag = not any(mark in ref for mark in ":/@")
        if self.config.image.repository and bare_tag and ref != self.config.image.repository:
            ref = f"{self.config.image.repository}:{ref}"
        return validate_image_ref(ref)

    def close(self) -> None:
        for name in ("store", "notifier", "parity"):
            part = self.__dict__.get(name)
            if part is not None:
                part.close()
