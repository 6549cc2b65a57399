"""The bed's network: a bridge on the host, one network namespace per node joined to it by a veth
pair, and the one FORWARD rule that lets the nodes reach each other.

The host's FORWARD policy is DROP (Docker sets it) and bridge netfilter sends bridged frames
through FORWARD, so without `-i BRIDGE -o BRIDGE -j ACCEPT` the nodes cannot reach each other.
Every removal here tolerates what is already gone: `down` runs it after a crash half-way.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class BedError(Exception):
    """The Swarm bed could not be brought up or down; the message says what to do."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise BedError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done


def _forward_rule(bridge: str) -> list[str]:
    return ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=False)


def add_bridge(bridge: str, gateway: str) -> None:
    network = gateway.rsplit(".", 1)[0] + ".0/24"
    taken = ip("-o", "-4", "addr", "show", "to", network, check=False).stdout.split()
    if taken:  # two bridges on one subnet: the host would route the bed's traffic to either
        raise BedError(
            f"The subnet {network} is already on link {taken[1]} of this host: bring the bed "
            "up on another subnet (another port base for a sandbox)."
        )
    ip("link", "add", bridge, "type", "bridge")
    ip("addr", "add", f"{gateway}/24", "dev", bridge)
    ip("link", "set", bridge, "up")
    if _iptables("-C", *_forward_rule(bridge)).returncode != 0:
        done = _iptables("-I", "FORWARD", "1", *_forward_rule(bridge)[1:])
        if done.returncode != 0:
            raise BedError(f"Could not let the nodes reach each other: {done.stderr.strip()}")


def add_node_link(bridge: str, namespace: str, address: str) -> None:
    """Namespace `namespace` with `eth0` at `address`/24, its peer `namespace` on the bridge."""
    ip("netns", "add", namespace)
    ip("link", "add", namespace, "type", "veth", "peer", "name", "eth0", "netns", namespace)
    ip("link", "set", namespace, "master", bridge)
    ip("link", "set", namespace, "up")
    ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
    ip("-n", namespace, "link", "set", "eth0", "up")
    ip("-n", namespace, "link", "set", "lo", "up")


def set_link(namespace: str, up: bool) -> None:
    """Cut a node off (its packets dropped, its connections left unanswered) or mend it."""
    ip("link", "set", namespace, "up" if up else "down")


def pids_in(namespace: str) -> list[int]:
    done = ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in done.stdout.split() if pid.isdigit()]


def existing_namespaces() -> set[str]:
    done = ip("netns", "list", check=False)
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


def remove_links(bridge: str, namespaces: Sequence[str]) -> list[str]:
    """Remove the namespaces, their veths, the bridge and the FORWARD rule; return what stays."""
    for namespace in namespaces:
        ip("netns", "delete", namespace, check=False)
        ip("link", "delete", namespace, check=False)
    ip("link", "delete", bridge, check=False)
    while _iptables("-C", *_forward_rule(bridge)).returncode == 0:
        if _iptables("-D", *_forward_rule(bridge)).returncode != 0:
            break
    left = [f"namespace {n}" for n in sorted(existing_namespaces() & set(namespaces))]
    left += [f"link {name}" for name in (*namespaces, bridge) if _link_exists(name)]
    if _iptables("-C", *_forward_rule(bridge)).returncode == 0:
        left.append(f"iptables rule {' '.join(_forward_rule(bridge))}")
    return left


def _link_exists(name: str) -> bool:
    return ip("link", "show", name, check=False).returncode == 0
