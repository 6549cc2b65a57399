"""Every fixed loopback port a test module binds, in one table.

`./dev test` runs the suite on three pytest-xdist workers (each module whole on one worker), so
modules may run side by side: their ports must never meet. `tests/unit/test_ports.py` checks
that no two entries of the table overlap and that all lie where `./dev` reserves them from the
kernel's client ports. The modules that run alone afterwards (EXCLUSIVE_MODULES in conftest.py:
reliability, the benchmark smokes, the dockerd restart) keep their own ports; nothing runs
beside them.

A sandbox takes its base and the 22 ports after it: proxy +0, blue +1, green +2, nginx admin
+19, PostgreSQL +20, JSON-RPC chain +21, the agent's exporter +22 (a fleet sandbox gives each
service its own three: +0..+2, +3..+5, +6..+8).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple

from console.core.listening import bind_error
from console.sandbox.profiles.base import Ports

SANDBOX_SPAN = max(astuple(Ports.from_base(0))) + 1  # the base and every offset after it


def sandbox(base: int) -> range:
    return range(base, base + SANDBOX_SPAN)


# ── sandboxes (tests/integration/sandbox_fixture.py and the modules that bring one up) ─────────
WHEEL_INSTALL = sandbox(27080)
CI_EXAMPLE = sandbox(27180)
AGENT_SIGTERM = sandbox(27280)
WORKFLOW = sandbox(28080)  # sandbox_fixture's default
HOOKS = sandbox(27600)  # tests/integration/test_hooks.py
HOOKS_WEBHOOK = 27690  # and its webhook sink
WORKFLOW_WEBHOOK = 28070
E2E_SANDBOX = sandbox(28180)
PROFILE_WEB = sandbox(28250)
PROFILE_EVM = sandbox(28350)
TRAFFIC_STATUS = sandbox(28400)
METRICS_EXPORTER = sandbox(28480)
ANALYSIS_ROLLBACK = sandbox(28530)
CANARY_SANDBOX = sandbox(28640)
DRAIN_RETIRE = sandbox(28720)
SESSIONS_KEPT = sandbox(27400)  # tests/integration/test_sessions_kept.py: the web sandbox
SESSIONS_PROXIES = range(27460, 27480)  # test_sessions_proxies.py: upstreams, then the proxy
PARITY = sandbox(28800)
PARITY_WEBHOOK = 28870
PODMAN = sandbox(28880)  # its own crash and follow containers on +8 and +9
TUI_FLEET = sandbox(29250)  # tests/tui/test_fleet_e2e.py: the fleet sandbox, and a fleet dir's
TUI_FLEET_WEB = 29280  # the same module's `watch --web` on its own fleet directory
E2E_PROFILE_WEB = sandbox(29300)
FLEET_SANDBOX = sandbox(29330)  # three services: +0..+8 (profiles/fleet.py), shared +19..+22
BENCH_FLEET_AGENT = range(29360, 29390)  # the fleet bench's smoke: the host's +19..+22, then
# two services from +23 (bench/fleet_world.py)
E2E_PROFILE_EVM = sandbox(29400)
RESOURCES_SANDBOX = sandbox(29500)
WEB_VIEW = sandbox(29600)
WEB_VIEW_WEB = 29650
WEB_VIEW_SINK = 29651  # the planted webhook and HTTP progress source
SANDBOX_DOWN = sandbox(29700)
SWARM_SANDBOX = sandbox(29723)  # test_sandbox_swarm: `sandbox up --profile swarm`
SWARM_BED_GLOBAL = 29746  # test_swarm_bed: a global service's host-mode port on each node
NAMED_ROLLBACK = sandbox(27700)  # tests/integration/test_named_rollback.py (images, 26.5)
STORE_DOWN = sandbox(27876)  # tests/integration/test_store_down.py (a web sandbox, issue 24.5)
# One agent for a directory of services (issue 23): a fleet sandbox each, and the host ports of
# a service added while it runs (nothing listens on them).
AGENT_FLEET = sandbox(29100)
AGENT_FLEET_ADDED = (29147, 29148)
AGENT_SIGTERM_FLEET = sandbox(29149)

# ── a private nginx, HAProxy or PostgreSQL of the module's own ───────────────────────────────
STORE_CONTRACT = range(27310, 27320)  # tests/store_sites.py's PostgreSQL (the store contract)
STORE_SHARED = (27320, 27321, 27322, 27323)  # test_shared_store: PostgreSQL, blue, green, proxy
STORE_BENCH = 27324  # test_bench_store_smoke: bench/shared_store.py's PostgreSQL
STORE_HOSTS = (27325, 27326, 27327, 27328)  # test_store_hosts: PostgreSQL, blue, green, proxy
STORE_POOLER = (27870, 27871)  # test_store_pooler: PostgreSQL, PgBouncer
STORE_DOWN_PG = 27872  # test_store_down: its PostgreSQL (the sandbox is STORE_DOWN)
STORE_TUI = (27873, 27874, 27875)  # tests/tui/test_store_down_tui: PostgreSQL, blue, green
STORE_FENCE_BENCH = 27899  # test_bench_store_smoke: bench/store_fence.py's PostgreSQL
FIRST_INSTALL = (28300, 28301, 28302, 28320)  # proxy, blue, green, PostgreSQL
PROXY_ROUTES = range(28600, 28620)
TRAFFIC_HAPROXY_RELOAD = range(28700, 28712)
STANDIN = range(56010, 56014)  # PostgreSQL, then one stand-in per test
CHAIN_PG = 56016
NGINX = range(56020, 56030)
HAPROXY = range(56030, 56040)
DOCKER_RUNTIME = range(56040, 56050)
HEIGHTS_PG = (56050, 56057, 56058)
HEIGHTS_HTTP = 56051
HEIGHTS_REFUSED = 56059  # nothing listens here
NOTIFY_OK, NOTIFY_REFUSED, NOTIFY_SLOW = 56052, 56053, 56054
CHECKS, CHECKS_REFUSED = 56055, 56056
PROXY_READBACK = range(56060, 56070)
PROXY_INSTALL = range(56070, 56080)
ACCESS_MODEL = range(56080, 56090)
WATCHERS = range(56090, 56100)
PROXY_CONTRACT = range(56100, 56110)
NGINX_TRAFFIC = range(56110, 56120)
MAINTENANCE = range(27500, 27510)  # test_maintenance: the upstreams, then each row's proxy
PROXY_FLEET = range(29200, 29230)  # two services' upstreams (10 candidates each), then the proxy
FLEET_SWITCH_BENCH = (29240, 29241, 29242, 29243, 29244)  # proxy, a blue, a green, b blue, b green
RECIPES_E2E = (56180, 56181, 56182, 56183, 56184)  # PostgreSQL, JSON-RPC chain, proxy, blue, green
RESET_DATABASE = (56185, 56186, 56187)  # test_recipes_e2e's reset acceptance: proxy, blue, green
REGISTRY = range(27800, 27804)  # test_registry: the registry, a webhook sink, blue, green
# Several edge proxies (issue 25.3): netns nginx edges (blue, green, listen, admin in each of
# 10.80's namespaces), then the HAProxy pair on loopback, then the bench smoke's two edges.
EDGES_NGINX = range(29800, 29810)
EDGES_HAPROXY = range(29810, 29830)
EDGES_BENCH_SMOKE = range(29830, 29850)
# Mixed edges (nginx on loopback + HAProxy on a 10.82 namespace host, its runtime API on TCP):
# the colours (on loopback and on that host), nginx's listen, HAProxy's listen and runtime API.
EDGES_MIXED = range(29850, 29860)
# The Swarm runtime (issue 25): each colour's host-mode port on the bed's nodes (10.77.40.x),
# then the private nginx in front (its listen and admin ports on loopback).
SWARM_RUNTIME = range(29750, 29755)
# test_swarm_haproxy: HAProxy's listen, blue, green; then bench/swarm_switch.py's HAProxy row's
# blue and green (on its own bed's nodes).
SWARM_HAPROXY = range(29755, 29760)
SWARM_BENCH = range(29760, 29770)  # bench/swarm_switch.py's smoke: the same shape
# Node outages on the bed (issue 25.4): green's port per test of test_swarm_link_down, then
# test_swarm_node_restart's blue, green (two tests) and its private nginx (listen, admin).
SWARM_LINK_DOWN = range(29770, 29774)
SWARM_NODE_RESTART = range(29774, 29782)
SWARM_OUTAGE_BENCH = range(29782, 29784)  # bench/swarm_outages.py (its smoke): green, spare
# test_swarm_edges: two edges (nginx live, HAProxy) on loopback in front of the bed: nginx's
# listen, HAProxy's listen, blue, green.
SWARM_EDGES = range(29784, 29788)

# ── ports handed to a child process (a stand-in, `watch --web`) by unit tests ─────────────────
PROFILE_STANDINS = range(56120, 56160)
WEB_VIEW_UNIT = range(56160, 56170)

# What `./dev test` reserves from the kernel's client ports (net.ipv4.ip_local_reserved_ports).
RESERVED = (range(27000, 30000), range(56000, 56200))


def side_by_side() -> dict[str, tuple[int, ...]]:
    """Every entry above as the ports it takes."""
    table: dict[str, tuple[int, ...]] = {}
    for name, value in globals().items():
        if not name.isupper() or name in ("SANDBOX_SPAN", "RESERVED"):
            continue
        table[name] = (value,) if isinstance(value, int) else tuple(value)
    return table


def unused(share: range) -> Iterator[int]:
    """The ports of `share` nothing listens on, one after another. A port the kernel picks
    (bind to 0) is free only until a client connection anywhere takes it — with modules side by
    side, that happened between the pick and the child's own bind. Reserved ports are never
    handed out to clients, so one from a module's share stays free for its child."""
    yield from (port for port in share if bind_error("127.0.0.1", port) is None)
