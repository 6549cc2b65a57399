"""The Swarm bed's names and record (console/sandbox/swarm/spec.py), and how node.sh is told
which cgroup hierarchies to mount again: pure logic, no namespace made."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.sandbox.swarm import BedError, BedSpec, SwarmBed
from console.sandbox.swarm.engines import cgroup_mounts, dockerd_argv


def test_one_name_per_node_everywhere_and_addresses_after_the_gateway() -> None:
    spec = BedSpec(Path("/var/tmp/b"), prefix="bgsw", subnet="10.77.0")
    bed = SwarmBed.of(spec)
    assert [n.name for n in bed.nodes] == ["bgsw-n1", "bgsw-n2", "bgsw-n3"]
    assert [n.address for n in bed.nodes] == ["10.77.0.2", "10.77.0.3", "10.77.0.4"]
    assert bed.gateway == "10.77.0.1" and spec.bridge == "bgsw-br"
    assert bed.manager.manager and not any(w.manager for w in bed.workers)
    assert bed.manager.docker_host == "unix:///var/tmp/b/bgsw-n1/docker.sock"
    assert bed.node("n2") is bed.node("bgsw-n2") is bed.workers[0]
    with pytest.raises(KeyError):
        bed.node("n9")


def test_the_record_brings_the_same_spec_back() -> None:
    spec = BedSpec(Path("/var/tmp/b"), "bsx", "10.77.9", ("a", "b"), heartbeat_seconds=1.0)
    assert BedSpec.from_record(spec.record()) == spec


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"prefix": "TooLongPrefix"}, "prefix 'TooLongPrefix'"),
        ({"subnet": "10.77"}, "subnet '10.77'"),
        ({"nodes": ("n1", "n1")}, "distinct"),
        ({"nodes": ("node-one",)}, "node name 'node-one'"),
        ({"directory": Path("/" + "d" * 120)}, "too long for a unix socket"),
    ],
)
def test_a_spec_that_cannot_make_interface_names_is_one_sentence(
    changes: dict[str, object], says: str
) -> None:
    settings: dict[str, object] = {"directory": Path("/var/tmp/b"), **changes}
    with pytest.raises(BedError, match=says):
        BedSpec(**settings)  # type: ignore[arg-type]


def test_node_sh_mounts_each_hierarchy_the_host_has_with_only_its_controllers() -> None:
    mounts = cgroup_mounts()
    assert mounts, "this host has cgroup hierarchies under /sys/fs/cgroup"
    for mount in mounts:
        kind, options, target = mount.split(":", 2)
        assert kind in ("cgroup", "cgroup2") and target.startswith("/sys/fs/cgroup")
        assert not {"rw", "relatime", "nosuid", "nodev", "noexec"} & set(options.split(","))


def test_each_engine_has_its_own_root_socket_and_cgroup_parent() -> None:
    argv = dockerd_argv("bgsw-n2", Path("/var/tmp/b/bgsw-n2"))
    assert argv[:6] == ["ip", "netns", "exec", "bgsw-n2", "unshare", "--uts"]
    engine = argv[argv.index("--") + 1 :]
    assert engine[engine.index("--data-root") + 1] == "/var/tmp/b/bgsw-n2/data"
    assert engine[engine.index("-H") + 1] == "unix:///var/tmp/b/bgsw-n2/docker.sock"
    assert engine[engine.index("--cgroup-parent") + 1] == "/bgsw-n2"
