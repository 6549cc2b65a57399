"""The composition root: the one place where the core's contracts meet the drivers that fulfil them.

The core (console/core) only knows Protocols (console/core/contracts); the CLI, the sandbox, the
benchmarks and the tests open an installation through here, which hands the core a `Drivers` of
builders. Each builder imports its driver when first called, so a read-only watcher that never
needs the container engine never imports the Docker SDK, and a part that is down degrades only
what depends on it.

A new runtime or proxy is one driver package and one row in `RUNTIMES` or in
`console.drivers.proxy.DRIVERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from console.core.config.schema import Config
from console.core.contracts.notifier import Notifier
from console.core.contracts.proxy import ProxyDriver
from console.core.contracts.runtime import Runtime
from console.core.contracts.store import Lease, OperationLock, StateDatabase
from console.core.fsutil import StateDirError, user_name
from console.core.installation import Drivers, Installation
from console.core.measures.parity import ParitySampler
from console.core.redact import Redactor
from console.core.service import Console


def _docker(config: Config, redactor: Redactor) -> Runtime:
    from console.drivers.docker.runtime import DockerRuntime

    # [runtime] docker_host, else $DOCKER_HOST, else the local socket (DockerRuntime.where).
    return DockerRuntime(
        config.runtime.docker_host or None,
        redactor=redactor,
        registry=config.registry,  # pulls send its credentials (drivers/docker/registry.py)
        repository=config.image.repository,
    )


def _swarm(config: Config, redactor: Redactor) -> Runtime:
    from console.drivers.swarm.runtime import SwarmRuntime

    # [runtime] docker_host is the manager's engine; [swarm] says how each colour runs.
    return SwarmRuntime(
        config.runtime.docker_host or None,
        config.swarm,
        redactor,
        registry=config.registry,
        repository=config.image.repository,
    )


# `[runtime] kind` → the builder of its `Runtime`.
RUNTIMES: dict[str, Callable[[Config, Redactor], Runtime]] = {
    "docker": _docker,  # the Docker Engine, or Podman's Docker API ([runtime] docker_host)
    "swarm": _swarm,  # Docker Swarm: each colour a service of [swarm] replicas tasks
}


def _runtime(config: Config, redactor: Redactor) -> Runtime:
    return RUNTIMES[config.runtime.kind](config, redactor)


def _proxy(config: Config) -> ProxyDriver:
    from console.drivers.proxy import make_proxy

    return make_proxy(config)


def _notifier(config: Config, redactor: Redactor) -> Notifier:
    from console.drivers.notify import WebhookNotifier

    return WebhookNotifier(config.notify, config.service, redactor)


def _parity(config: Config, redactor: Redactor) -> ParitySampler | None:
    from console.drivers.parity import make_parity_sampler

    return make_parity_sampler(config, redactor)


def _store_database(config: Config, read_only: bool) -> StateDatabase:
    from console.drivers.store.postgres import PostgresDatabase

    url = config.store.url_for(watching=read_only)
    if not url:
        raise StateDirError(
            "This installation keeps its state in PostgreSQL, and no store URL is readable for "
            f"{user_name()}: a watcher needs [store] watch_url (a read-only role) from a secret "
            "it may read, an operator needs [store] url."
        )
    return PostgresDatabase(url, config.store.schema_for(config.service), read_only)


def _shared_lock(config: Config) -> OperationLock:
    from console.drivers.store.pg_lock import PgOperatorLock

    return PgOperatorLock(_lock_url(config), config.store.schema_for(config.service))


def _shared_lease(config: Config) -> Lease:
    from console.drivers.store.pg_lock import PgAgentLease

    return PgAgentLease(_lock_url(config), config.store.schema_for(config.service))


def _lock_url(config: Config) -> str:
    # A watcher reads who holds the lock or leads with its own URL (pg_locks and a row); only an
    # operator's takes them (a read-only command never tries).
    return config.store.url_for(watching=False) or config.store.url_for(watching=True)


DRIVERS = Drivers(
    runtime=_runtime,
    proxy=_proxy,
    notifier=_notifier,
    parity=_parity,
    store_database=_store_database,
    shared_lock=_shared_lock,
    shared_lease=_shared_lease,
)


def open_installation(config: Config) -> Installation:
    """The installation `config` describes, with the real drivers."""
    return Installation(config, DRIVERS)


def open_console(config: Config, read_only: bool = False) -> Console:
    """The console facade over that installation (what the CLI and the TUI drive)."""
    return Console(open_installation(config), read_only=read_only)
