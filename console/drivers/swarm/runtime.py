"""Docker Swarm as a runtime: each colour is one service of `[swarm] replicas` tasks.

Images, registries, one-off containers (a hook's migration) and the bounded, restart-proof calls
are the Docker runtime's, against the manager's engine (`[runtime] docker_host`); what changes is
the colour: `start` creates its service, `stop` scales it to nothing and waits for its tasks to
end (so the next service's tasks find their host ports free), `remove` removes it. A deploy
touches the idle colour's service only: every call here names one service.
"""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors
import docker.types

from console.core import timeouts
from console.core.config.registry import RegistryConfig
from console.core.config.swarm import SwarmConfig
from console.core.contracts.runtime import (
    ContainerFailed,
    ContainerInfo,
    ContainerRunning,
    ContainerSpec,
    ImageNotFound,
    ReplicaSet,
)
from console.core.redact import Redactor
from console.drivers.docker.runtime import DockerRuntime
from console.drivers.swarm.logs import SwarmLogsMixin
from console.drivers.swarm.model import (
    desired_replicas,
    replica_set,
    service_info,
    service_spec,
)
from console.drivers.swarm.outages import NodeOutages
from console.drivers.swarm.stats import SwarmStatsMixin

_STOP_POLL_SECONDS = 0.25
# Beyond a task's stop grace period: the time Swarm takes to tell the nodes and hear back.
_STOP_MARGIN_SECONDS = 15.0


class SwarmRuntime(SwarmLogsMixin, SwarmStatsMixin, DockerRuntime):
    """The colours as Swarm services on the cluster whose manager answers at `base_url`."""

    def __init__(
        self,
        base_url: str | None = None,
        swarm: SwarmConfig | None = None,
        redactor: Redactor | None = None,
        *,
        timeout: float = timeouts.DOCKER_READ_SECONDS,
        registry: RegistryConfig | None = None,
        repository: str = "",
    ) -> None:
        super().__init__(base_url, timeout, redactor, registry=registry, repository=repository)
        self.swarm = swarm or SwarmConfig()
        self._engines: dict[str, DockerRuntime] = {}  # node engines by address (node_engine)
        # Tasks that died with their node (a long or a short outage): not restarts.
        self._outages = NodeOutages()

    # ── what the scheduler says ─────────────────────────────────────────────────────────────

    def _service(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(lambda client: client.api.inspect_service(name)))
        except docker.errors.NotFound:
            return None

    def _tasks_and_nodes(self, name: str) -> tuple[list[Any], list[Any]]:
        tasks = self._call(lambda client: client.api.tasks(filters={"service": name}))
        nodes = self._call(lambda client: client.api.nodes())
        return list(tasks), list(nodes)

    def replicas(self, name: str) -> ReplicaSet | None:
        """Every task of colour `name` the manager knows now, on which node, where it answers."""
        service = self._service(name)
        if service is None:
            return None
        return self._replicas(service)

    def _replicas(self, service: dict[str, Any]) -> ReplicaSet:
        # By the service's id: a name filter also matches other services whose name starts so.
        tasks, nodes = self._tasks_and_nodes(str(service.get("ID") or ""))
        replicas = replica_set(service, tasks, nodes, self.swarm.addresses, self._redactor.redact)
        self._outages.note(tasks, nodes)
        return self._outages.explain(replicas)

    def change_token(self, name: str) -> None:
        """Never vouch for a kept inspect (core/contracts/runtime.ContainerChanges): a colour is
        a service whose tasks change on other nodes' engines, which the manager's container
        events do not show — it is read afresh every time."""
        return None

    def inspect(self, name: str) -> ContainerInfo | None:
        """The colour's service as one ContainerInfo (running while meant to run)."""
        return self.inspect_replicas(name)[0]

    def inspect_replicas(self, name: str) -> tuple[ContainerInfo | None, ReplicaSet | None]:
        """The service, its tasks and the nodes, each read once: the colour as one
        ContainerInfo and as its replicas (the agent's tick reads both)."""
        service = self._service(name)
        if service is None:
            return None, None
        replicas = self._replicas(service)
        info = service_info(service, replicas, self._redactor.redact, self._outages.lost)
        return info, replicas

    def list_by_label(self, label: str, value: str | None = None) -> list[ContainerInfo]:
        selector = label if value is None else f"{label}={value}"
        services = self._call(lambda client: client.api.services(filters={"label": selector}))
        found = []
        for service in services:
            replicas = self._replicas(dict(service))
            found.append(
                service_info(dict(service), replicas, self._redactor.redact, self._outages.lost)
            )
        return sorted(found, key=lambda info: info.name)

    # ── changing one colour's service ───────────────────────────────────────────────────────

    def start(self, spec: ContainerSpec) -> ContainerInfo:
        """Create the colour's service (`[swarm] replicas` tasks). A scaled-down service of that
        name is replaced; one still meant to run is never touched (ContainerRunning)."""
        existing = self.inspect(spec.name)
        if existing is not None:
            if existing.running:
                raise ContainerRunning(
                    f"Service {spec.name} is already running. Stop it first (or deploy to the "
                    "other colour)."
                )
            self.remove(spec.name)
        arguments = service_spec(spec, self.swarm)
        try:
            self._call(lambda client: client.api.create_service(**arguments), self.change_timeout)
        except docker.errors.ImageNotFound:
            raise ImageNotFound(
                f"Image {spec.image} is not on the Swarm's manager. Load or pull it first."
            ) from None
        except docker.errors.APIError as exc:
            raise ContainerFailed(
                f"Service {spec.name} could not be created: {self._explain(exc)}."
            ) from None
        info = self.inspect(spec.name)
        if info is None:
            raise ContainerFailed(f"Service {spec.name} vanished right after it was created.")
        return info

    def stop(self, name: str, timeout: int | None = None) -> None:
        """Scale the colour's service to nothing and wait (its stop grace period and a margin)
        until none of its tasks runs; a missing service is fine."""
        service = self._service(name)
        if service is None:
            return
        spec = dict(service.get("Spec") or {})
        if desired_replicas(service) != 0:
            version = int((service.get("Version") or {}).get("Index") or 0)
            self._change(
                name,
                "scaled down",
                lambda client: client.api.update_service(
                    str(service["ID"]),
                    version,
                    mode=docker.types.ServiceMode("replicated", replicas=0),
                    fetch_current_spec=True,  # everything else stays as it is
                ),
            )
        grace = timeout if timeout is not None else _grace_seconds(spec)
        self._wait_until_stopped(name, time.monotonic() + grace + _STOP_MARGIN_SECONDS)

    def _wait_until_stopped(self, name: str, deadline: float) -> None:
        while True:
            replicas = self.replicas(name)
            if replicas is None or not [
                t for t in replicas.tasks if t.state in ("running", "starting") and t.node_up
            ]:
                return
            if time.monotonic() >= deadline:
                raise ContainerFailed(
                    f"Service {name} still has running tasks after it was scaled down; check "
                    f"`docker service ps {name}` on the manager, then retry."
                )
            time.sleep(_STOP_POLL_SECONDS)

    def remove(self, name: str) -> None:
        """Remove the colour's service (its tasks stop); a missing service is fine."""
        self._change(name, "removed", lambda client: client.api.remove_service(name))

    def exec_ok(self, name: str, argv: list[str]) -> bool:
        """Run `argv` in every running task (on its node's engine, `[swarm] engines`); True only
        when every one exits 0 and every task could be reached."""
        replicas = self.replicas(name)
        if replicas is None or not replicas.counting:
            return False
        for task in replicas.counting:
            engine = self.node_engine(task.node)
            if engine is None or not task.container_id:
                return False
            if not engine.exec_ok(task.container_id, argv):
                return False
        return True

    def node_engine(self, node: str) -> DockerRuntime | None:
        """The engine of `node` (`[swarm] engines`), None when it is not listed."""
        address = self.swarm.engines.get(node)
        if not address:
            return None
        with self._lock:
            engine = self._engines.get(address)
            if engine is None:
                engine = DockerRuntime(address, self.read_timeout, self._redactor)
                self._engines[address] = engine
            return engine


def _grace_seconds(spec: dict[str, Any]) -> int:
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return int((container.get("StopGracePeriod") or 10_000_000_000) // 1_000_000_000)
