"""Other "hosts" on this machine: network namespaces on a bridge, each with its own address.

`hosts(prefix, names)` makes a bridge (`PREFIX-br`, 10.78.N.1/24) in this namespace and, per name,
a namespace `PREFIX-NAME` joined to it by a veth pair (its end `eth0`, 10.78.N.(2+i)). A process
runs "on" a host with `host.run(argv)` (`ip netns exec`). A host *vanishes* — without closing a
single connection — with `host.cut()`: its veth goes down, so its packets are dropped, not
refused. Everything is removed afterwards, also after a crashed earlier run.

Traffic stays between this machine's own namespaces, as the sandbox rules ask.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass(frozen=True)
class Host:
    name: str  # the namespace
    address: str  # its address on the bridge
    veth: str  # the bridge's end of its link

    def run(self, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kwargs)  # type: ignore[call-overload,no-any-return]

    def cut(self) -> None:
        """The host vanishes: its link goes down, its connections are left open, unanswered."""
        _ip("link", "set", self.veth, "down")

    def mend(self) -> None:
        _ip("link", "set", self.veth, "up")


@dataclass(frozen=True)
class Hosts:
    gateway: str  # this namespace's address on the bridge: what the hosts reach
    network: str
    members: dict[str, Host]


def _remove(prefix: str, names: Sequence[str]) -> None:
    for name in names:
        _ip("netns", "delete", f"{prefix}-{name}", check=False)
        _ip("link", "delete", f"{prefix}-{name}", check=False)
    _ip("link", "delete", f"{prefix}-br", check=False)


@contextlib.contextmanager
def hosts(prefix: str, names: Sequence[str], subnet: int = 78) -> Iterator[Hosts]:
    """Namespaces `PREFIX-NAME` on bridge `PREFIX-br` in 10.SUBNET.0.0/24 (prefix ≤ 8 chars)."""
    _remove(prefix, names)
    bridge = f"{prefix}-br"
    gateway = f"10.{subnet}.0.1"
    members: dict[str, Host] = {}
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{gateway}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for index, name in enumerate(names):
            namespace, veth = f"{prefix}-{name}", f"{prefix}-{name}"
            address = f"10.{subnet}.0.{2 + index}"
            _ip("netns", "add", namespace)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            _ip("link", "set", veth, "master", bridge)
            _ip("link", "set", veth, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            members[name] = Host(namespace, address, veth)
        yield Hosts(gateway, f"10.{subnet}.0.0/24", members)
    finally:
        _remove(prefix, names)
