"""One installation: the config plus the parts built from it, created lazily and shared.

The core does not know how a part is built: `Drivers` holds one builder per contract, and the
composition root (`console.wiring`) fills it with the real drivers. Parts are built on first use so
that a read-only watcher never opens a container engine or proxy connection it does not need, and
so a part that is down degrades only what depends on it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import cast

from console.core.access import may_write_state
from console.core.config.schema import Config
from console.core.contracts.edges import edge_proxies
from console.core.contracts.notifier import Notifier
from console.core.contracts.proxy import ProxyDriver
from console.core.contracts.runtime import Runtime
from console.core.contracts.store import Lease, OperationLock, StateDatabase
from console.core.fence import PROXY_CHANGES, RUNTIME_CHANGES, Fenced, LockLost
from console.core.fsutil import StateDirError
from console.core.lock import AgentLease, OperatorLock
from console.core.measures.parity import ParitySampler
from console.core.redact import Redactor
from console.core.store.edge_intent import StoreJournal
from console.core.store.store import Store

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


@dataclass(frozen=True, slots=True)
class Drivers:
    """How each part outside the core is built from the configuration (see `console.wiring`)."""

    runtime: Callable[[Config, Redactor], Runtime]
    proxy: Callable[[Config], ProxyDriver]
    notifier: Callable[[Config, Redactor], Notifier]
    parity: Callable[[Config, Redactor], ParitySampler | None]
    # `[store] url`: the store, lock and lease in a shared database; None = SQLite only.
    store_database: Callable[[Config, bool], StateDatabase] | None = None
    shared_lock: Callable[[Config], OperationLock] | None = None
    shared_lease: Callable[[Config], Lease] | None = None


class Installation:
    def __init__(self, config: Config, drivers: Drivers) -> None:
        self.config = config
        self.drivers = drivers
        self.state_dir = Path(config.state_dir)
        self._fence: Callable[[], bool] | None = None
        self._operation_lock: OperationLock | None = None  # held by a running operation

    def fence_with(self, confirm: Callable[[], bool]) -> None:
        """From now on, every change to the proxy or runtime asks `confirm` first (an agent on a
        shared store: its lease). Set before either part is first used."""
        self._fence = confirm

    @contextlib.contextmanager
    def changing_under(self, lock: OperationLock) -> Iterator[None]:
        """While an operation holds the operator lock of a shared store, each of its changes to
        the proxy or runtime first asks the server whether the lock is still held: a store that
        restarted or was cut off took the lock with it, and another operator may hold it now."""
        if not self.config.store.shared:
            yield
            return
        self._operation_lock = lock
        try:
            yield
        finally:
            self._operation_lock = None

    def _may_change(self) -> bool:
        if self._fence is not None and not self._fence():
            return False
        lock = self._operation_lock
        if lock is not None and not lock.confirm():
            raise LockLost(
                f"The operator lock in {self.store.where} is no longer held (the store stopped, "
                "restarted or was cut off), so bluegreen changed nothing more: the proxy and the "
                "containers stay as they were before this step. Retry once the store answers "
                "(`bluegreen status`)."
            )
        return True

    @cached_property
    def redactor(self) -> Redactor:
        return Redactor(self.config.secret_values)

    @cached_property
    def store(self) -> Store:
        watcher = not may_write_state(self.state_dir)  # read it, never create or write
        if self.config.store.shared:
            # A shared store: a user without the operators' URL (a watcher's secrets) reads.
            watcher = watcher or not self.config.store.url_for(watching=False)
            if self.drivers.store_database is None:
                raise StateDirError("This build of bluegreen has no PostgreSQL store.")
            database = self.drivers.store_database(self.config, watcher)
            return Store(database, redact=self.redactor.redact)
        if watcher:
            return Store.open_read_only(self.state_dir, redact=self.redactor.redact)
        return Store.open(self.state_dir, redact=self.redactor.redact)

    @cached_property
    def lock(self) -> OperationLock:
        if self.config.store.shared and self.drivers.shared_lock is not None:
            self.store  # noqa: B018 — opening the store creates (or checks) the lock's table
            return self.drivers.shared_lock(self.config)
        return OperatorLock(self.state_dir)

    @cached_property
    def agent_lease(self) -> Lease:
        if self.config.store.shared and self.drivers.shared_lease is not None:
            self.store  # noqa: B018 — opening the store creates (or checks) the lease's table
            return self.drivers.shared_lease(self.config)
        return AgentLease(self.state_dir)

    @cached_property
    def runtime(self) -> Runtime:
        runtime = self.drivers.runtime(self.config, self.redactor)
        if self._fence is None and not self.config.store.shared:
            return runtime
        return cast(Runtime, Fenced(runtime, RUNTIME_CHANGES, self._may_change, "containers"))

    @cached_property
    def proxy(self) -> ProxyDriver:
        proxy = self.drivers.proxy(self.config)
        edges = edge_proxies(proxy)
        if edges is not None:  # several edges: each change's intent goes to the store first
            edges.keep_intent_in(StoreJournal(lambda: self.store))
        if self._fence is None and not self.config.store.shared:
            return proxy
        return cast(ProxyDriver, Fenced(proxy, PROXY_CHANGES, self._may_change, "proxy"))

    @cached_property
    def notifier(self) -> Notifier:
        return self.drivers.notifier(self.config, self.redactor)

    @cached_property
    def parity(self) -> ParitySampler | None:
        """Both colours compared at a pinned height; None without [[parity]]."""
        return self.drivers.parity(self.config, self.redactor)

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
