"""The real three-node Docker Swarm every Swarm test runs on, brought up ONCE per test session.

A module asks for it with the `swarm_bed` fixture (registered as a plugin in tests/conftest.py).
Every module that does is put in one xdist group ("swarm", tests/conftest.py), so under
`./dev test -n 3` they all run on one worker, one after another, on one bed — never three beds
on one subnet. The `exclusive` pass is a session of its own: a module there that asks gets its
own bed (~11 s).

The bed is console/sandbox/swarm: nodes bgsw-n1 (manager), -n2, -n3 at 10.77.0.2-4 on bridge
bgsw-br (the host is 10.77.0.1), each with its own Docker Engine; the web profile's stand-in
images (bluegreen/webapp:v1 and :v2) are on every node. No IPVS here: publish with mode=host or
use endpoint_mode=dnsrr. Tests that break a node (kill its engine, cut its link) must mend it
(`start_engine` + `wait_answering`, `set_link(name, True)`) before they return.

Needs root (network namespaces, iptables); CI runs as root.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.sandbox.swarm import BedSpec, SwarmBed, down, up
from console.sandbox.swarm.links import existing_namespaces
from console.sandbox.swarm.spec import TEST_DIRECTORY, record_path

SWARM_GROUP = "swarm"  # the xdist group of every module asking for the bed
SWARM_BED_SPEC = BedSpec(TEST_DIRECTORY / "bgsw", prefix="bgsw", subnet="10.77.0")
SWARM_IMAGE_TAGS = ("v1", "v2")  # of the web profile's stand-in, on every node


@pytest.fixture(scope="session")
def swarm_bed(request: pytest.FixtureRequest, base_image: str) -> Iterator[SwarmBed]:
    from console.sandbox.images import WEBAPP_REPOSITORY, build_image
    from tests.conftest import say_uncaptured

    if os.geteuid() != 0:
        pytest.skip("the Swarm bed needs root (network namespaces, iptables); CI runs as root")

    def say(line: str) -> None:
        say_uncaptured(request.config, line)

    refs = [build_image(tag, repository=WEBAPP_REPOSITORY) for tag in SWARM_IMAGE_TAGS]
    bed = up(SWARM_BED_SPEC, images=refs, say=say)
    try:
        yield bed
    finally:
        left = down(SWARM_BED_SPEC, say)
        if left:
            say(f"the Swarm bed left: {'; '.join(left)}")


def bed_traces(spec: BedSpec) -> list[str]:
    """What of bed `spec` is still on this machine."""
    found = [f"namespace {n}" for n in sorted(existing_namespaces() & set(spec.names))]
    for name in (*spec.names, spec.bridge):
        if subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0:
            found.append(f"link {name}")
    rule = ["FORWARD", "-i", spec.bridge, "-o", spec.bridge, "-j", "ACCEPT"]
    if subprocess.run(["iptables", "-w", "-C", *rule], capture_output=True).returncode == 0:
        found.append("FORWARD rule")
    found += [f"cgroup {p}" for n in spec.names for p in Path("/sys/fs/cgroup").glob(f"*/{n}")]
    found += [f"path {p}" for p in (spec.directory, record_path(spec.prefix)) if p.exists()]
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if str(spec.directory).encode() in (entry / "cmdline").read_bytes():
                found.append(f"process {entry.name}")
        except OSError:
            pass
    return found
