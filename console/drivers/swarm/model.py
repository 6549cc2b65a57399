"""Swarm's documents turned into the runtime contract's values, and a colour's `ContainerSpec`
turned into a service spec. Pure: no I/O (`runtime` does the talking).

A colour is one service. As a `ContainerInfo` it is "running" while it is meant to run (its
desired replicas above 0), whatever its tasks do: what each task does is its `ReplicaSet`, which
the gate counts. Its restarts are its tasks that failed (a task moved off a dead node is not a
restart: it did not fail, its node did).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import docker.types

from console.core.config.swarm import SwarmConfig
from console.core.contracts.runtime import ContainerInfo, ContainerSpec, ReplicaSet, TaskInfo
from console.drivers.docker.model import familiar_image, parse_docker_time

# Task states that mean the task's container ended badly (Swarm then starts another).
FAILED_STATES = ("failed", "rejected")
# Task states on the way to running.
STARTING_STATES = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting")


def restart_condition(text: str) -> docker.types.RestartPolicy:
    """`[image] restart_policy` → Swarm's: no → none, on-failure[:N] → on-failure (N attempts),
    always / unless-stopped → any (Swarm has no "unless stopped": a scaled-down service is)."""
    name, _, count = text.strip().partition(":")
    if name == "no":
        return docker.types.RestartPolicy(condition="none")
    if name == "on-failure":
        return docker.types.RestartPolicy(
            condition="on-failure", max_attempts=int(count) if count.isdigit() else 0
        )
    return docker.types.RestartPolicy(condition="any")


def service_spec(spec: ContainerSpec, swarm: SwarmConfig) -> dict[str, Any]:
    """The keyword arguments of the SDK's `create_service` for one colour."""
    container = docker.types.ContainerSpec(
        spec.image,
        # Docker's Cmd is Swarm's Args; Docker's Entrypoint is Swarm's Command.
        command=spec.entrypoint,
        args=spec.command or None,
        env=[f"{name}={value}" for name, value in spec.env.items()],
        labels=spec.labels,
        # A replica is stopped with SIGTERM then SIGKILL after this (ns); the init forwards it.
        stop_grace_period=spec.stop_timeout * 1_000_000_000,
        init=spec.init,
        hosts=spec.extra_hosts or None,
    )
    placement = docker.types.Placement(
        constraints=[c.replace(" ", "") for c in swarm.constraints] or None,
        maxreplicas=swarm.max_per_node or None,
    )
    resources = (
        docker.types.Resources(cpu_limit=spec.nano_cpus, mem_limit=spec.mem_limit)
        if spec.nano_cpus or spec.mem_limit
        else None
    )
    template = docker.types.TaskTemplate(
        container,
        resources=resources,
        restart_policy=restart_condition(spec.restart_policy),
        placement=placement,
        networks=[spec.network] if spec.network else None,
    )
    # Host mode: each task publishes the port on its own node (the routing mesh needs IPVS);
    # DNS round robin: no virtual IP, which needs IPVS too.
    ports = {spec.host_port: (spec.container_port, "tcp", "host")} if spec.host_port else None
    return {
        "task_template": template,
        "name": spec.name,
        "labels": spec.labels,
        "mode": docker.types.ServiceMode("replicated", replicas=swarm.replicas),
        "endpoint_spec": docker.types.EndpointSpec(mode="dnsrr", ports=ports),
    }


def desired_replicas(service: Mapping[str, Any]) -> int:
    mode = (service.get("Spec") or {}).get("Mode") or {}
    replicated = mode.get("Replicated")
    if isinstance(replicated, dict):
        return int(replicated.get("Replicas") or 0)
    return 0


def published_port(service: Mapping[str, Any]) -> int:
    ports = ((service.get("Spec") or {}).get("EndpointSpec") or {}).get("Ports") or []
    for port in ports:
        if port.get("PublishedPort"):
            return int(port["PublishedPort"])
    return 0


def node_address(node: Mapping[str, Any], addresses: Mapping[str, str]) -> str:
    """Where `node`'s published ports answer: the operator's override, else the address it
    reported; a manager may report 0.0.0.0 there, its advertised address is then the one."""
    hostname = str((node.get("Description") or {}).get("Hostname") or "")
    if hostname in addresses:
        return addresses[hostname]
    address = str((node.get("Status") or {}).get("Addr") or "")
    if address in ("", "0.0.0.0"):
        manager = str((node.get("ManagerStatus") or {}).get("Addr") or "")
        address = manager.rsplit(":", 1)[0] if manager else ""
    return address


def task_info(
    task: Mapping[str, Any],
    nodes: Mapping[str, Mapping[str, Any]],
    port: int,
    addresses: Mapping[str, str],
    redact: Callable[[str], str],
) -> TaskInfo:
    status = task.get("Status") or {}
    node = nodes.get(str(task.get("NodeID") or "")) or {}
    published = [
        int(p["PublishedPort"])
        for p in (status.get("PortStatus") or {}).get("Ports") or []
        if p.get("PublishedPort")
    ]
    error = status.get("Err") or None
    return TaskInfo(
        id=str(task.get("ID") or ""),
        node=str((node.get("Description") or {}).get("Hostname") or ""),
        address=node_address(node, addresses) if node else "",
        port=published[0] if published else port,
        state=str(status.get("State") or "unknown"),
        desired=str(task.get("DesiredState") or "unknown"),
        node_up=str((node.get("Status") or {}).get("State") or "") == "ready",
        error=redact(str(error)) if error else None,
        started_at=parse_docker_time(status.get("Timestamp")),
        container_id=str((status.get("ContainerStatus") or {}).get("ContainerID") or ""),
    )


def replica_set(
    service: Mapping[str, Any],
    tasks: list[Mapping[str, Any]],
    nodes: list[Mapping[str, Any]],
    addresses: Mapping[str, str],
    redact: Callable[[str], str],
) -> ReplicaSet:
    """The service's desired count and every task of it the manager reports."""
    by_id = {str(node.get("ID") or ""): node for node in nodes}
    port = published_port(service)
    infos = (task_info(task, by_id, port, addresses, redact) for task in tasks)
    return ReplicaSet(
        desired=desired_replicas(service),
        tasks=tuple(sorted(infos, key=lambda t: (t.started_at or 0.0, t.id))),
    )


def service_info(
    service: Mapping[str, Any],
    replicas: ReplicaSet,
    redact: Callable[[str], str],
    lost_with_node: Collection[str] = (),
) -> ContainerInfo:
    """A colour's service as one `ContainerInfo`: running while meant to run; its restarts are
    its failed tasks, but for those that failed because their node died (`lost_with_node`, from
    outages.NodeOutages: a node that was down, or whose engine restarted under the task); its
    error the newest failed task's."""
    spec = service.get("Spec") or {}
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    image = str(container.get("Image") or "").split("@", 1)[0]  # Swarm pins the digest
    failed = [
        task
        for task in replicas.tasks
        if task.state in FAILED_STATES and task.id not in lost_with_node and not task.outage
    ]
    meant_to_run = replicas.desired > 0
    newest_error = failed[-1].error if failed else None
    return ContainerInfo(
        name=str(spec.get("Name") or ""),
        id=str(service.get("ID") or ""),
        image=familiar_image(image),
        labels=dict(spec.get("Labels") or {}),
        state="running" if meant_to_run else "exited",
        running=meant_to_run,
        exit_code=None if meant_to_run else 0,
        health=None,
        restart_count=len(failed),
        started_at=parse_docker_time(service.get("CreatedAt")),
        finished_at=None if meant_to_run else parse_docker_time(service.get("UpdatedAt")),
        error=redact(newest_error) if newest_error else None,
        oom_killed=False,
    )
