"""HAProxy in front of a Swarm colour, the pure parts (console/drivers/proxy/haproxy/replicas.py):
the rendered sections, `show servers state` read back as slots, and the one runtime-API line that
leaves exactly the wanted replicas in use; and where `config check` and `status` say a swarm
colour is reached. The real HAProxy on the three-node bed: test_swarm_haproxy.py (integration)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.cli.render_replicas import colour_where, replica_lines
from console.core.config.load import parse_config
from console.core.config.schema import RuntimeConfig
from console.core.config.swarm import SwarmConfig
from console.core.contracts.proxy import ProxyError
from console.core.model import Color
from console.core.replicas import ReplicaStatus, TaskStatus
from console.drivers.proxy.haproxy.backend import render_backend
from console.drivers.proxy.haproxy.replicas import (
    Slot,
    checked_peers,
    parse_slots,
    plan_slots,
    render_colour_sections,
    slot_count,
)

SECTION = "bg_green"
HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
)


def row(srv_id: int, addr: str, port: int, admin: int) -> str:
    state = f"{srv_id} task{srv_id} {addr} 2 {admin} 1 1 0 1 0 0 8 0 0 0 -"
    return f"5 {SECTION} {state} {port} - 0 0 - - 0\n"


def test_show_servers_state_reads_as_slots_in_use_or_not() -> None:
    text = (
        HEADER
        + row(1, "10.0.0.2", 8082, 0)
        + row(2, "127.0.0.1", 8082, 5)
        + row(3, "10.0.0.4", 8082, 8)
    )
    assert parse_slots(text, SECTION) == [
        Slot("task1", "10.0.0.2:8082", True),
        Slot("task2", "127.0.0.1:8082", False),  # disabled in the file, in maintenance
        Slot("task3", "10.0.0.4:8082", False),  # draining takes no new request
    ]
    assert parse_slots(text, "bg_blue") == []


def test_the_plan_enables_new_replicas_first_and_then_takes_the_gone_out() -> None:
    slots = [
        Slot("task1", "10.0.0.2:8082", True),
        Slot("task2", "10.0.0.3:8082", True),  # its task was lost
        Slot("task3", "10.0.0.4:8082", False),  # used before: only enabled again
        Slot("task4", "127.0.0.1:8082", False),
    ]
    wanted = ["10.0.0.2:8082", "10.0.0.4:8082", "10.0.0.5:8082"]
    assert plan_slots(SECTION, slots, wanted) == [
        f"set server {SECTION}/task3 state ready",
        f"set server {SECTION}/task4 addr 10.0.0.5 port 8082",
        f"set server {SECTION}/task4 state ready",
        f"set server {SECTION}/task2 state maint",
    ]
    settled = [Slot(s.name, s.endpoint, s.endpoint in wanted) for s in slots[:3]]
    settled.append(Slot("task4", "10.0.0.5:8082", True))
    assert plan_slots(SECTION, settled, wanted) == []  # nothing to change: nothing sent


def test_an_endpoint_in_use_twice_keeps_one_slot() -> None:
    slots = [Slot("task1", "10.0.0.2:8082", True), Slot("task2", "10.0.0.2:8082", True)]
    assert plan_slots(SECTION, slots, ["10.0.0.2:8082"]) == [
        f"set server {SECTION}/task2 state maint"
    ]


def test_more_replicas_than_slots_is_a_sentence_and_nothing_is_planned() -> None:
    slots = [Slot("task1", "127.0.0.1:8082", False)]
    with pytest.raises(ProxyError, match="too few for 2 replicas: run `bluegreen proxy install`"):
        plan_slots(SECTION, slots, ["10.0.0.2:8082", "10.0.0.3:8082"])
    assert slot_count(3) == 6 and slot_count(1) == 2


def test_peers_must_be_ipv4_address_and_port() -> None:
    assert checked_peers("green", ["10.0.0.2:8082"]) == ["10.0.0.2:8082"]
    for bad in ("node-2:8082", "10.0.0.2", "10.0.0.2:0", "10.0.0.2:8082; shutdown"):
        with pytest.raises(ProxyError, match=r"\[swarm\] addresses"):
            checked_peers("green", [bad])


def test_each_colour_server_leads_to_its_section_of_slots() -> None:
    targets: dict[Color, str] = {
        "blue": "abns@bluegreen-bg-blue send-proxy-v2",
        "green": "abns@x send-proxy-v2",
    }
    backend = render_backend("bg", 8081, 8082, "blue", targets=targets)
    assert "    server blue abns@bluegreen-bg-blue send-proxy-v2\n" in backend
    assert "    server green abns@x send-proxy-v2 disabled\n" in backend
    assert "127.0.0.1" not in backend
    plain = render_backend("bg", 8081, 8082, "blue")  # one container a colour: as before
    assert "    server blue 127.0.0.1:8081\n    server green 127.0.0.1:8082 disabled\n" in plain
    sections = render_colour_sections("bg", {"blue": 8081, "green": 8082}, 2)
    assert (
        "listen bg_green\n" in sections and "bind abns@bluegreen-bg-green accept-proxy" in sections
    )
    assert (
        sections.count("server task") == 4
        and "    server task2 127.0.0.1:8082 disabled\n" in sections
    )
    assert "option redispatch" in sections  # a request to a task that just died goes to another
    # The replicas last routed, written down: HAProxy starts with them after a reload.
    known = render_colour_sections(
        "bg", {"blue": 8081, "green": 8082}, 2, {"green": ["10.0.0.2:8082"]}
    )
    assert "    server task1 10.0.0.2:8082\n    server task2 127.0.0.1:8082 disabled\n" in known
    assert "    server task1 127.0.0.1:8081 disabled\n" in known  # blue: none known


CONFIG = """
service = "svc"
[image]
repository = "svc"
[slots.blue]
container = "svc-blue"
host_port = 8081
[slots.green]
container = "svc-green"
host_port = 8082
"""


def test_where_a_colour_is_reached_says_its_replicas_not_loopback_on_a_swarm() -> None:
    config = parse_config(CONFIG)
    assert colour_where(config, "green") == "svc-green on 127.0.0.1:8082"
    swarm = replace(config, runtime=RuntimeConfig(kind="swarm"), swarm=SwarmConfig(replicas=3))
    assert colour_where(swarm, "green") == (
        "svc-green: 3 Swarm replica(s), each at its node's address:8082 (host mode)"
    )
    named = replace(
        swarm, swarm=SwarmConfig(replicas=2, addresses={"w2": "10.0.0.3", "w1": "10.0.0.2"})
    )
    assert colour_where(named, "blue") == (
        "svc-blue: 2 Swarm replica(s), at 10.0.0.2:8081, 10.0.0.3:8081 "
        "(host mode, [swarm] addresses)"
    )
    tasks = (
        TaskStatus("t1", "w1", "running", "running", "10.0.0.2:8082", counted=True, healthy=True),
        TaskStatus("t2", "w2", "running", "running", "10.0.0.3:8082", counted=True, healthy=True),
    )
    lines = replica_lines("green", ReplicaStatus(2, tasks))
    assert lines[1] == "  green:   reached at 10.0.0.2:8082, 10.0.0.3:8082"
