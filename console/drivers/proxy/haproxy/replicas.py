"""HAProxy in front of a colour of several replicas (a Swarm service's tasks, each at
NODE_ADDRESS:PORT): a backend per colour whose server slots the agent fills with the tasks that
answer, over the runtime API.

The switch does not change: the service's backend keeps its two servers `blue` and `green`, and a
switch is still the one line `set server be/<new> state ready; set server be/<old> state drain`.
With a Swarm runtime each of those servers leads, over an abstract unix socket inside the same
HAProxy (`abns@`, PROXY protocol v2 so the client's address goes along), to the colour's own
section `<be>_<colour>`: `slots` servers, `task1`…`taskN`, each either one replica's endpoint
(`ready`) or unused (`maint`). `set_peers` reads that section's servers back, sends one line —
`set server <be>_<c>/taskK addr IP port P; set server <be>_<c>/taskK state ready` for a replica
new to it, then `state maint` for one gone — and reads back that exactly the wanted endpoints are
in use. Enabled before disabled: a colour is never left without a server by its own update. A
request that cannot connect to a replica that just died is retried on another (`retries`,
`option redispatch`), so it costs a retry, not an error, until the agent's next tick.

Runtime changes are forgotten on an HAProxy reload or restart, so each change the agent makes
is also written down: the replicas in `include_dir/bluegreen-haproxy.peers`, and the backend file
rendered again with them in its first slots (the rest `disabled`), so HAProxy starts with the last
replicas it was given instead of answering 503 until the agent's next resend (within
`RESEND_SECONDS`, agent/replica_watch.py). Written only when they changed; a file that cannot be
written changes nothing at runtime (the agent resends as for nginx's shared dict).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from console.core.config.schema import Config
from console.core.contracts.proxy import ProxyError
from console.core.fsutil import StateDirError, atomic_write
from console.core.model import COLORS, Color
from console.core.timeouts import PROXY_READ_BACK_SECONDS
from console.drivers.proxy.haproxy.backend import NOT_ROUTABLE, server_rows

SLOT_PREFIX = "task"
PEERS_FILE = "bluegreen-haproxy.peers"


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    endpoint: str  # ADDR:PORT it points at now
    in_use: bool  # takes requests (not in maintenance or drain)


def colour_section(backend: str, color: Color) -> str:
    return f"{backend}_{color}"


def colour_socket(backend: str, color: Color, instance: str = "") -> str:
    """The colour section's abstract socket. Abstract names are shared by every process in the
    network namespace: `instance` (from the HAProxy's admin socket path) keeps two HAProxys
    with a backend of the same name from reaching each other's sections."""
    return f"abns@bluegreen-{backend}-{color}" + (f"-{instance}" if instance else "")


def instance_of(admin_socket: str) -> str:
    return hashlib.sha256(admin_socket.encode()).hexdigest()[:8]


def colour_servers(backend: str, instance: str = "") -> dict[Color, str]:
    """What the service backend's `blue` and `green` servers point at: each colour's section."""
    return {c: f"{colour_socket(backend, c, instance)} send-proxy-v2" for c in COLORS}


def slot_count(replicas: int) -> int:
    """Room for every replica and as many again (a task rescheduled while its old one is still
    listed, a colour scaled up by hand), never fewer than 2."""
    return max(2, 2 * replicas)


def render_colour_sections(
    backend: str,
    ports: dict[Color, int],
    slots: int,
    known: dict[Color, list[str]] | None = None,
    instance: str = "",
) -> str:
    """One section per colour: its socket and `slots` servers, the first ones at the replicas
    last routed (`known`), the rest unused (`disabled`) until the agent fills them."""
    text = ""
    for color in COLORS:
        section = colour_section(backend, color)
        routed = ((known or {}).get(color) or [])[:slots]
        unused = [f"127.0.0.1:{ports[color]} disabled"] * (slots - len(routed))
        servers = "".join(
            f"    server {SLOT_PREFIX}{i} {where}\n"
            for i, where in enumerate([*routed, *unused], start=1)
        )
        text += (
            f"\nlisten {section}\n"
            f"    # {color}'s replicas: bluegreen fills these slots through the runtime API.\n"
            "    mode http\n"
            f"    bind {colour_socket(backend, color, instance)} accept-proxy\n"
            "    balance roundrobin\n"
            "    retries 2\n"
            "    option redispatch\n"
            "    http-request return status 503 content-type text/plain string "
            f'"no replica of {color} is routed yet" if {{ nbsrv eq 0 }}\n'
            f"{servers}"
        )
    return text


def parse_slots(text: str, section: str) -> list[Slot]:
    """`show servers state <section>` → its server slots, in their order."""
    slots: list[Slot] = []
    for row in server_rows(text, section):
        with contextlib.suppress(KeyError, ValueError):
            state = int(row["srv_admin_state"])
            endpoint = f"{row['srv_addr']}:{int(row['srv_port'])}"
            slots.append(Slot(row["srv_name"], endpoint, not state & NOT_ROUTABLE))
    return slots


def plan_slots(section: str, slots: list[Slot], peers: list[str]) -> list[str]:
    """The runtime-API commands that leave exactly `peers` in use in `section`: enable (and,
    for an endpoint no slot holds, re-address a free slot) first, then put the rest in
    maintenance. ProxyError when there are more peers than slots."""
    wanted = list(dict.fromkeys(peers))
    kept: set[str] = set()
    enable: list[str] = []
    disable: list[str] = []
    for slot in slots:
        if slot.in_use and slot.endpoint in wanted and slot.endpoint not in kept:
            kept.add(slot.endpoint)
        elif slot.in_use:
            disable.append(slot.name)
    missing = [peer for peer in wanted if peer not in kept]
    free = [slot for slot in slots if not slot.in_use]
    for peer in list(missing):  # a free slot already there: enabling it is enough
        here = next((slot for slot in free if slot.endpoint == peer), None)
        if here is not None:
            free.remove(here)
            missing.remove(peer)
            enable.append(f"set server {section}/{here.name} state ready")
    if len(missing) > len(free):
        raise ProxyError(
            f"HAProxy's {section} has {len(slots)} server slots, too few for {len(wanted)} "
            "replicas: run `bluegreen proxy install` after changing [swarm] replicas, then "
            "restart HAProxy."
        )
    for peer, slot in zip(missing, free, strict=False):
        address, port = peer.rsplit(":", 1)
        enable.append(f"set server {section}/{slot.name} addr {address} port {port}")
        enable.append(f"set server {section}/{slot.name} state ready")
    return enable + [f"set server {section}/{name} state maint" for name in disable]


def checked_peers(color: Color, peers: list[str]) -> list[str]:
    """`peers` as HAProxy takes them (IPv4 ADDRESS:PORT); ProxyError naming the first that is
    not (HAProxy's runtime API sets addresses, not names)."""
    for peer in peers:
        address, _, port = peer.rpartition(":")
        try:
            ipaddress.IPv4Address(address)
            valid = port.isdigit() and 0 < int(port) < 65536
        except ValueError:
            valid = False
        if not valid:
            raise ProxyError(
                f"Cannot route {color} to its replica at '{peer}': HAProxy takes IPv4 "
                "ADDRESS:PORT; give the node's address in [swarm] addresses."
            )
    return peers


class HaproxyReplicas:
    """`PeerRouting` for the HAProxy driver (needs its `backend` and `runtime`)."""

    backend: str
    backend_path: Path
    socket_path: str
    runtime: Callable[..., str]  # the driver's runtime-API call (command, timeout)
    _render: Callable[[Color | None], str]  # the driver's backend file, rendered
    persisted: Callable[[], Color | None]  # the driver's live colour, as written down

    def setup_replicas(self, config: Config) -> None:
        # Rendered only for a Swarm: every other install's backend stays as it was, byte for byte.
        self.peers = config.runtime.kind == "swarm"
        self.slots = slot_count(config.swarm.replicas)
        self.peers_path = Path(config.proxy.include_dir) / PEERS_FILE
        self.instance = instance_of(str(Path(self.socket_path).absolute()))

    def replica_targets(self) -> dict[Color, str] | None:
        return colour_servers(self.backend, self.instance) if self.peers else None

    def replica_sections(self, ports: dict[Color, int]) -> str:
        if not self.peers:
            return ""
        known = self.known_peers()
        return render_colour_sections(self.backend, ports, self.slots, known, self.instance)

    def known_peers(self) -> dict[Color, list[str]]:
        """The replicas last routed per colour, as written down ({} when never)."""
        try:
            text = self.peers_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return {}
        known: dict[Color, list[str]] = {}
        for line in text.splitlines():
            color, _, listed = line.partition(" ")
            if color in COLORS and not line.startswith("#"):
                with contextlib.suppress(ProxyError):
                    known[color] = checked_peers(color, [p for p in listed.split(",") if p])
        return known

    def _write_down(self, color: Color, peers: list[str]) -> None:
        """Keep `color`'s replicas for HAProxy's next start: the peers file, then the backend
        file rendered with them (when it was installed). Best effort: see the module's text."""
        known = self.known_peers()
        if known.get(color) == peers:
            return
        known[color] = peers
        text = "# bluegreen: the replicas each colour was last routed to (HAProxy's slots)\n"
        text += "".join(f"{c} {','.join(known[c])}\n" for c in COLORS if c in known)
        with contextlib.suppress(OSError, StateDirError):
            atomic_write(self.peers_path, text, mode=0o644)
            if self.backend_path.exists():
                rendered = self._render(self.persisted())
                if self.backend_path.read_text(encoding="utf-8") != rendered:
                    atomic_write(self.backend_path, rendered, mode=0o644)

    def set_peers(self, color: Color, peers: list[str]) -> None:
        """Route `color` to these replicas' endpoints from its next request on (PeerRouting)."""
        if not self.peers:
            raise ProxyError(
                "This HAProxy backend was rendered for one container per colour: set [runtime] "
                'kind = "swarm", then run `bluegreen proxy install` and restart HAProxy.'
            )
        section = colour_section(self.backend, color)
        wanted = checked_peers(color, peers)
        commands = plan_slots(section, self.colour_slots(color), wanted)
        if commands:
            self.runtime("; ".join(commands))  # its answers say "IP changed…": read back instead
        in_use = sorted(slot.endpoint for slot in self.colour_slots(color) if slot.in_use)
        if in_use != sorted(set(wanted)):
            raise ProxyError(
                f"HAProxy did not take {color}'s replicas: {section} routes to "
                f"{', '.join(in_use) or 'none'} instead of {', '.join(sorted(wanted))}."
            )
        self._write_down(color, in_use)

    def colour_slots(self, color: Color) -> list[Slot]:
        section = colour_section(self.backend, color)
        answer = self.runtime(f"show servers state {section}", PROXY_READ_BACK_SECONDS)
        if "Can't find backend" in answer:
            raise ProxyError(
                f"HAProxy has no section '{section}' for {color}'s replicas: load the backend "
                "file from `bluegreen proxy install` (it holds both colours' sections) and "
                "restart HAProxy."
            )
        return parse_slots(answer, section)

    def replica_problems(self) -> list[str]:
        """`check`'s findings about the colours' sections (none without a Swarm)."""
        if not self.peers:
            return []
        problems = []
        for color in COLORS:
            try:
                self.colour_slots(color)
            except ProxyError as exc:
                problems.append(str(exc))
        return problems
