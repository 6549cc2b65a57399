"""What a Swarm bed is made of (`BedSpec`: names, addresses, directories, all derived from a
prefix and a subnet) and what `up` hands back (`SwarmBed`, its `SwarmNode`s).

One name per node is used everywhere: the network namespace, the host's end of its veth, the
hostname its engine reports to the Swarm, its cgroup parent and its directory. So a bed left by
a crashed run is found again from its spec alone (`teardown.down`), and the spec is recorded
before anything starts — in the bed's directory and in RECORDS — so `down-all` finds beds
whose caller is gone.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from console.sandbox.swarm.links import BedError

RECORDS = Path("/run/bluegreen-swarm")  # one PREFIX.json per bed that is (or was) up
RECORD_FILE = "bed.json"
TEST_DIRECTORY = Path("/var/tmp/bluegreen-swarm")
MAX_SOCKET_PATH = 100  # a unix socket's path must fit in 108 bytes, with room for the engine's own
# The first node is the manager, the others join as workers.
DEFAULT_NODES = ("n1", "n2", "n3")


@dataclass(frozen=True)
class BedSpec:
    """A bed: nodes `PREFIX-NAME` at SUBNET.2, .3, … on bridge `PREFIX-br` (SUBNET.1, the host's
    address on it), their engines' files under `directory/PREFIX-NAME`."""

    directory: Path
    prefix: str = "bgsw"
    subnet: str = "10.77.0"  # the bridge's /24, as its first three octets
    nodes: tuple[str, ...] = DEFAULT_NODES
    # Overlay networks' subnets, inside the nodes only; kept inside 10.77 and clear of the beds'
    # bridges (10.77.0-127), so no overlay ever shadows the nodes' own link.
    overlay_pool: str = "10.77.128.0/17"
    heartbeat_seconds: float = 0.0  # the manager's node heartbeat; 0 = Docker's (5 s)
    dockerd_args: tuple[str, ...] = field(default=())  # more flags for every node's engine

    def __post_init__(self) -> None:
        problems = []
        if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", self.prefix):
            problems.append(f"the prefix '{self.prefix}' must be 1-8 lowercase letters/digits")
        if not re.fullmatch(r"(\d{1,3}\.){2}\d{1,3}", self.subnet):
            problems.append(f"the subnet '{self.subnet}' must be three octets, like 10.77.0")
        if not 1 <= len(self.nodes) <= 200 or len(set(self.nodes)) != len(self.nodes):
            problems.append("the nodes must be 1 to 200 distinct names")
        problems += [
            f"the node name '{n}' must be 1-6 lowercase letters/digits"
            for n in self.nodes
            if not re.fullmatch(r"[a-z0-9]{1,6}", n)
        ]
        if self.nodes and len(str(self.socket(self.names[0]))) > MAX_SOCKET_PATH:
            problems.append(f"the directory '{self.directory}' is too long for a unix socket")
        if problems:
            raise BedError(f"This Swarm bed cannot be made: {'; '.join(problems)}.")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}-{node}" for node in self.nodes)

    @property
    def bridge(self) -> str:
        return f"{self.prefix}-br"

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def address(self, index: int) -> str:
        return f"{self.subnet}.{2 + index}"

    def node_dir(self, name: str) -> Path:
        return self.directory / name

    def socket(self, name: str) -> Path:
        return self.node_dir(name) / "docker.sock"

    def record(self) -> str:
        data = asdict(self)
        data["directory"] = str(self.directory)
        return json.dumps(data, indent=2)

    @classmethod
    def from_record(cls, text: str) -> BedSpec:
        data = json.loads(text)
        data["directory"] = Path(data["directory"])
        data["nodes"] = tuple(data["nodes"])
        data["dockerd_args"] = tuple(data.get("dockerd_args", ()))
        return cls(**data)


@dataclass(frozen=True)
class SwarmNode:
    """One node: its name (namespace, hostname, Swarm node name), its address on the bridge,
    its engine's socket, and whether it is the manager."""

    name: str
    address: str
    socket: str
    manager: bool

    @property
    def docker_host(self) -> str:
        """What DOCKER_HOST, `docker -H` or `DockerClient(base_url=…)` take."""
        return f"unix://{self.socket}"

    @property
    def directory(self) -> Path:
        return Path(self.socket).parent


@dataclass(frozen=True)
class SwarmBed:
    spec: BedSpec
    nodes: tuple[SwarmNode, ...]
    seconds: float = 0.0  # how long `up` took

    @property
    def manager(self) -> SwarmNode:
        return self.nodes[0]

    @property
    def workers(self) -> tuple[SwarmNode, ...]:
        return self.nodes[1:]

    @property
    def gateway(self) -> str:
        """The host's own address on the bridge: how the nodes reach a process on the host."""
        return self.spec.gateway

    def node(self, name: str) -> SwarmNode:
        for node in self.nodes:
            if name in (node.name, node.name.removeprefix(f"{self.spec.prefix}-")):
                return node
        raise KeyError(name)

    @classmethod
    def of(cls, spec: BedSpec, seconds: float = 0.0) -> SwarmBed:
        nodes = tuple(
            SwarmNode(name, spec.address(index), str(spec.socket(name)), index == 0)
            for index, name in enumerate(spec.names)
        )
        return cls(spec, nodes, seconds)


def record_path(prefix: str) -> Path:
    return RECORDS / f"{prefix}.json"
