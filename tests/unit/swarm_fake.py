"""A pure fake of the Docker SDK's Swarm calls (services, tasks, nodes, service logs), in the
documents' own shape, for unit tests of console/drivers/swarm. State is plain dicts a test edits:
a node goes down, a task fails, a task is rescheduled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker.errors


def node(node_id: str, hostname: str, addr: str, state: str = "ready", manager: str = "") -> dict:
    document: dict[str, Any] = {
        "ID": node_id,
        "Description": {"Hostname": hostname},
        "Status": {"State": state, "Addr": addr},
    }
    if manager:
        document["ManagerStatus"] = {"Addr": manager, "Leader": True}
    return document


def task(
    task_id: str,
    node_id: str,
    state: str = "running",
    desired: str = "running",
    port: int = 29751,
    err: str = "",
    at: str = "2026-12-06T23:00:00.000000000Z",
) -> dict:
    status: dict[str, Any] = {
        "State": state,
        "Timestamp": at,
        "ContainerStatus": {"ContainerID": f"c-{task_id}"},
    }
    if state == "running":
        status["PortStatus"] = {
            "Ports": [{"PublishedPort": port, "TargetPort": 8080, "PublishMode": "host"}]
        }
    if err:
        status["Err"] = err
    return {"ID": task_id, "NodeID": node_id, "DesiredState": desired, "Status": status}


@dataclass
class FakeApi:
    by_name: dict[str, dict] = field(default_factory=dict)  # services by name
    tasks_of: dict[str, list[dict]] = field(default_factory=dict)  # by service id
    node_list: list[dict] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    log_batches: list[bytes] = field(default_factory=list)  # what each service_logs call returns
    log_calls: list[dict] = field(default_factory=list)
    base_url: str = "http+docker://localhost"

    def _find(self, name_or_id: str) -> dict:
        for service in self.by_name.values():
            if name_or_id in (service["ID"], service["Spec"]["Name"]):
                return service
        raise docker.errors.NotFound(f"service {name_or_id} not found")

    def inspect_service(self, name: str) -> dict:
        return self._find(name)

    def tasks(self, filters: dict) -> list[dict]:
        return list(self.tasks_of.get(self._find(filters["service"])["ID"], []))

    def nodes(self) -> list[dict]:
        return list(self.node_list)

    def services(self, filters: dict) -> list[dict]:
        label, _, value = filters["label"].partition("=")
        return [
            s
            for s in self.by_name.values()
            if label in s["Spec"]["Labels"] and (not value or s["Spec"]["Labels"][label] == value)
        ]

    def create_service(self, **kwargs: Any) -> dict:
        self.created.append(kwargs)
        name = kwargs["name"]
        replicas = kwargs["mode"]["replicated"]["Replicas"]  # the SDK's key; Go reads any case
        self.by_name[name] = service(f"id-{name}-{len(self.created)}", name, replicas)
        return {"ID": self.by_name[name]["ID"]}

    def update_service(self, service_id: str, version: int, **kwargs: Any) -> None:
        self.updates.append({"service": service_id, "version": version, **kwargs})
        found = self._find(service_id)
        found["Spec"]["Mode"] = {"Replicated": dict(kwargs["mode"]["replicated"])}
        for each in self.tasks_of.get(found["ID"], []):  # the scheduler stops them at once
            each["DesiredState"] = "shutdown"
            each["Status"]["State"] = "shutdown"

    def remove_service(self, name: str) -> None:
        found = self._find(name)
        self.removed.append(name)
        del self.by_name[found["Spec"]["Name"]]

    def service_logs(self, name: str, **kwargs: Any) -> Any:
        self._find(name)
        self.log_calls.append(kwargs)
        batch = self.log_batches.pop(0) if self.log_batches else b""
        return iter([batch])


def service(service_id: str, name: str, replicas: int, port: int = 29751) -> dict:
    return {
        "ID": service_id,
        "Version": {"Index": 7},
        "CreatedAt": "2026-12-06T22:59:00.000000000Z",
        "UpdatedAt": "2026-12-06T22:59:00.000000000Z",
        "Spec": {
            "Name": name,
            "Labels": {"bluegreen.color": "green", "bluegreen.version": "v2"},
            "TaskTemplate": {
                "ContainerSpec": {
                    "Image": "web:v2@sha256:abc",
                    "StopGracePeriod": 1_000_000_000,
                }
            },
            "Mode": {"Replicated": {"Replicas": replicas}},
            "EndpointSpec": {
                "Mode": "dnsrr",
                "Ports": [{"PublishedPort": port, "TargetPort": 8080, "PublishMode": "host"}],
            },
        },
    }


@dataclass
class FakeClient:
    api: FakeApi

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


THREE_NODES = [
    node("n1", "mgr", "0.0.0.0", manager="10.77.0.2:2377"),
    node("n2", "w1", "10.77.0.3"),
    node("n3", "w2", "10.77.0.4"),
]
