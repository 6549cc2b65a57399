"""How the suite shares the machine: most modules run side by side, some must run alone.

`./dev test` runs the suite in three passes. First everything not marked `exclusive` or
`bench_smoke`, on three pytest-xdist workers with `--dist loadgroup`: each module is one group,
so its module-scoped sandbox is made once and its tests run in order on one worker
(tests/ports.py keeps the modules' ports apart); the modules asking for the Swarm bed
(tests/swarm_bed.py) are one group, "swarm", so one bed serves them all. Then the benchmark
smokes, each test a group of its own, side by side with each other only: each bench keeps its own
ports and worlds (bench/*.py), which overlap the first pass's table but never each other, and a
smoke asserts what its bench counts, never how fast. Last the `exclusive` modules, one at a time:
they stop or hang parts every other test relies on (dockerd, a shared world).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ("tests.swarm_bed",)  # the `swarm_bed` fixture: one Swarm bed per session

EXCLUSIVE_MODULES = (
    "tests/reliability/",  # one shared world; SIGSTOPs dockerd, PostgreSQL and nginx
    "tests/integration/test_resource_stream.py",  # stops and starts the shared dockerd
)

# Benchmarks on ports of their own outside the side-by-side table (bench/*.py PORT_BASE).
BENCH_SMOKE_MODULES = (
    "tests/integration/test_bench_smoke.py",
    "tests/integration/test_bench_tui_smoke.py",
    "tests/integration/test_bench_tui_fleet_smoke.py",
    "tests/integration/test_bench_swarm_outages_smoke.py",  # a Swarm bed of its own (10.77.42)
)

# Modules that share something other than ports run on the same worker, one after the other.
SHARED_GROUPS = {
    "tests/security/": "security",  # the same system users and groups (security_site.py)
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook turns the marks into groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A module with one test on the Swarm bed goes whole to its group (its module fixtures once).
    on_the_swarm_bed = {i.path for i in items if "swarm_bed" in getattr(i, "fixturenames", ())}
    for item in items:
        module = item.path.resolve().relative_to(ROOT).as_posix()
        if module.startswith(EXCLUSIVE_MODULES):
            item.add_marker(pytest.mark.exclusive)
        group = next(
            (name for prefix, name in SHARED_GROUPS.items() if module.startswith(prefix)), module
        )
        group = "swarm" if item.path in on_the_swarm_bed else group
        if module.startswith(BENCH_SMOKE_MODULES):
            item.add_marker(pytest.mark.bench_smoke)
            group = item.nodeid
        item.add_marker(pytest.mark.xdist_group(group))


def say_uncaptured(config: pytest.Config, line: str) -> None:
    """Write `line` to the run's log even while output is captured: a 40 s build must show in
    CI's log, on a pytest-xdist worker too (its stderr is the run's)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"[tests] {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def base_image(request: pytest.FixtureRequest) -> str:
    """bluegreen-base:bookworm on the local Docker Engine, built here if missing — never left
    to another module or an earlier run. Every worker asks; ensure_base_image's lock makes the
    first build it and the others wait for it."""
    from console.sandbox.images import ensure_base_image

    return ensure_base_image(say=lambda line: say_uncaptured(request.config, line))
