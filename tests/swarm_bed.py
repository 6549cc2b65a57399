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
from collections.abc import Iterator

import pytest

from console.sandbox.swarm import BedSpec, SwarmBed, down, up
from console.sandbox.swarm.spec import TEST_DIRECTORY

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
