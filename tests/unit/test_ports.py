"""The port table: modules that run side by side on two workers never share a port."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from tests import ports

DEV = Path(__file__).resolve().parents[2] / "dev"


def test_no_two_modules_running_side_by_side_share_a_port() -> None:
    table = ports.side_by_side()
    clashes = [
        (a, b, sorted(set(table[a]) & set(table[b])))
        for a, b in itertools.combinations(table, 2)
        if set(table[a]) & set(table[b])
    ]
    assert clashes == []


def test_every_port_is_reserved_from_the_kernels_client_ports() -> None:
    outside = {
        name: port
        for name, taken in ports.side_by_side().items()
        for port in taken
        if not any(port in reserved for reserved in ports.RESERVED)
    }
    assert outside == {}


def test_dev_reserves_what_the_table_says() -> None:
    """`./dev test` hands the kernel the same ranges (one source for humans, one for sysctl)."""
    (line,) = re.findall(r"ip_local_reserved_ports=(\S+)", DEV.read_text())
    reserved = [tuple(int(x) for x in part.split("-")) for part in line.split(",")]
    assert reserved == [(r.start, r.stop - 1) for r in ports.RESERVED]
