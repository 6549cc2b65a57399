"""Blue/green on a three-node Docker Swarm (issue 25), through nginx in live mode and HAProxy.

Two measures on a real Swarm bed (console/sandbox/swarm: three engines in network namespaces,
one manager, two workers), the web stand-in as each colour, three replicas per colour, one per
node, each at NODE_ADDRESS:PORT (host mode: there is no routing mesh here):

1. **Switches under load.** `hey` keeps a keep-alive POST load on the edge nginx while the colour
   is switched N times; a probe polls every millisecond for the cutover (command issued → first
   answer from the new colour). The same run measures HAProxy in front of the same Swarm (each
   colour a section of server slots filled with its tasks, haproxy/replicas.py) and the
   single-host setup beside it: the same image in two containers on this host's own engine, the
   same nginx live mode.
2. **A node killed mid-warm-up.** N times: a fresh colour of three replicas is created; while its
   replicas still answer 503 on their ready path (the stand-in's warm-up, READY_AFTER_SECONDS)
   a worker's engine is killed with its shims and containers, and started again once the
   manager has marked the node down (the task is then rescheduled there: with one task per node
   on three nodes there is nowhere else). The agent's
   own SlotWatch reads the colour throughout; a "premature ready" is any reading that says ready
   while fewer than three tasks on three nodes count or one of them does not answer ready when
   asked right then. Printed: premature readies (must be 0), trials ready again after the task
   was rescheduled, and the time from the kill to ready again.

    python -m bench.swarm_switch [--switches 20] [--trials 20]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import httpx

from bench.common import (
    HeyLoad,
    LoadResult,
    Probe,
    fmt,
    percentile,
    require_hey,
    table,
    write_results,
)
from bench.switch_under_load import SwitchRun, Target, switch_many
from console.agent.samplers import sample_round
from console.agent.slot_watch import SlotWatch
from console.core.config.proxy import HaproxyProxyConfig, NginxProxyConfig
from console.core.config.schema import Config, RuntimeConfig
from console.core.contracts.runtime import Runtime
from console.core.model import Color
from console.core.redact import Redactor
from console.drivers.docker.runtime import DockerRuntime
from console.drivers.proxy import make_proxy
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.nginx.live import NginxLiveDriver
from console.drivers.swarm.runtime import SwarmRuntime
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.nginx_proc import NginxProcess
from console.sandbox.swarm import SwarmBed, kill_engine, start_engine, wait_answering
from tests import ports
from tests.integration.swarm_world import swarm_bed, swarm_config, wait_for, web_spec

# Swarm row: nginx listen, its admin port, blue's and green's host-mode ports on the nodes;
# single-host row: the same four, on loopback; the node-failure trials' colour's port.
SWARM_PORTS = tuple(ports.SWARM_BENCH[0:4])
SINGLE_PORTS = tuple(ports.SWARM_BENCH[4:8])
TRIAL_PORTS = (ports.SWARM_BENCH[8], ports.SWARM_BENCH[9])
# HAProxy row: the Swarm row's listen (its nginx is gone by then), blue's and green's node ports
# of its own (the Swarm row's tasks may still be stopping on theirs).
HAPROXY_PORTS = (SWARM_PORTS[0], 0, ports.SWARM_HAPROXY[3], ports.SWARM_HAPROXY[4])


def _edge(
    config: Config, tmp: Path, listen: int, admin: int
) -> tuple[NginxProcess, NginxLiveDriver]:
    proc = NginxProcess(tmp / "nginx", listen, admin, tmp / "nginx" / "bluegreen")
    proc.write_main_conf()
    proxy = NginxProxyConfig(
        mode="live",
        include_dir=str(proc.include_dir),
        proxy_url=f"http://127.0.0.1:{listen}",
        admin_socket=str(tmp / "admin.sock"),
        test_command=proc.test_command(),
        reload_command=proc.reload_command(),
        verify_timeout_seconds=10.0,
    )
    driver = make_proxy(replace(config, proxy=proxy))
    assert isinstance(driver, NginxLiveDriver)
    return proc, driver


def _haproxy_edge(config: Config, tmp: Path, listen: int) -> tuple[HaproxyProcess, HaproxyDriver]:
    proc = HaproxyProcess(tmp / "haproxy", listen, tmp / "admin.sock")
    proxy = HaproxyProxyConfig(
        include_dir=str(tmp / "haproxy" / "bluegreen"),
        proxy_url=f"http://127.0.0.1:{listen}",
        admin_socket=str(proc.admin_socket),
        verify_timeout_seconds=10.0,
    )
    driver = make_proxy(replace(config, proxy=proxy))
    assert isinstance(driver, HaproxyDriver)
    return proc, driver


def _both_colours_up(
    runtime: Runtime, config: Config, endpoints: Callable[[Color], list[str]]
) -> None:
    for color, version in (("blue", "v1"), ("green", "v2")):
        runtime.remove(config.slots[color].container)
        runtime.start(web_spec(config, color, version))
    for color in ("blue", "green"):
        wait_for(
            f"{color}'s replicas answering",
            lambda c=color: endpoints(c) and all(_ready(e) for e in endpoints(c)),  # type: ignore[misc]
            120,
        )


def _ready(endpoint: str) -> bool:
    try:
        return httpx.get(f"http://{endpoint}/api/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def _row(
    name: str, bed: SwarmBed, tmp: Path, swarm: bool, haproxy: bool = False
) -> Iterator[tuple[int, Target]]:
    listen, admin, blue, green = (
        HAPROXY_PORTS if haproxy else SWARM_PORTS if swarm else SINGLE_PORTS
    )
    config = swarm_config(bed, tmp, (blue, green))
    if swarm:
        cluster = SwarmRuntime(config.runtime.docker_host, config.swarm)
        runtime: Runtime = cluster

        def endpoints(color: Color) -> list[str]:
            replicas = cluster.replicas(config.slots[color].container)
            return [t.endpoint for t in replicas.counting] if replicas else []

    else:
        config = replace(config, runtime=RuntimeConfig(), swarm=replace(config.swarm, replicas=1))
        config = replace(
            config,
            slots={c: replace(s, container=f"bgsb-single-{c}") for c, s in config.slots.items()},
        )
        runtime = DockerRuntime()

        def endpoints(color: Color) -> list[str]:
            return [f"127.0.0.1:{config.slots[color].host_port}"]

    _both_colours_up(runtime, config, endpoints)
    proc: HaproxyProcess | NginxProcess
    driver: HaproxyDriver | NginxLiveDriver
    if haproxy:
        # A short directory: the admin socket's path must stay under 108 bytes.
        edge_dir = Path(tempfile.mkdtemp(prefix="bgsb-", dir="/tmp"))
        proc, driver = _haproxy_edge(config, edge_dir, listen)
        driver.write_files("blue")
        proc.write_conf(driver.backend_section(), driver.backend)
    else:
        proc, driver = _edge(config, tmp / name, listen, admin)
        driver.write_files("blue")
    try:
        with proc:
            proc.start()
            driver.install("blue")
            if swarm:
                for color in ("blue", "green"):
                    driver.set_peers(color, endpoints(color))  # as the agent does each tick
            yield listen, Target(name, lambda to: driver.switch(to).cutover_ms, proc.worker_pids)
    finally:
        for color in ("blue", "green"):
            runtime.remove(config.slots[color].container)
        if haproxy:
            shutil.rmtree(edge_dir, ignore_errors=True)


def switches(bed: SwarmBed, tmp: Path, args: argparse.Namespace) -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    shapes = (("swarm-3x3", True, False), ("swarm-3x3-haproxy", True, True))
    for name, swarm, haproxy in (*shapes, ("single-host", False, False)):
        with _row(name, bed, tmp, swarm, haproxy) as (listen, target):
            with Probe("127.0.0.1", listen) as probe:
                if probe.wait_for("blue", 0.0) is None:
                    raise RuntimeError(f"{name}: the edge never answered from blue.")
                with HeyLoad(
                    f"http://127.0.0.1:{listen}/", tmp / "body.json", args.connections, args.rate
                ) as hey:
                    time.sleep(1.0)  # every connection open and kept alive before the first switch
                    run = switch_many(target, probe, args.switches, args.interval)
                    time.sleep(0.5)
                    load = hey.stop()
            rows[name] = _switch_figures(run, load)
    return rows


def _switch_figures(run: SwitchRun, load: LoadResult) -> dict[str, object]:
    cutovers = run.cutover_ms + run.rollback_ms
    return {
        "requests": load.requests,
        "failed": load.failures,
        "statuses": load.statuses,
        "errors": load.errors,
        "switches": len(cutovers) + run.missed,
        "missed": run.missed,
        "strays": run.strays,
        "cutover_p50_ms": percentile(cutovers, 50),
        "cutover_p99_ms": percentile(cutovers, 99),
    }


class Trial:
    """One colour read by the agent's own SlotWatch; counts the readings that said ready
    without three tasks on three nodes each answering ready when asked right then."""

    def __init__(self, config: Config, runtime: SwarmRuntime) -> None:
        self.watch = SlotWatch(config, "green", lambda: runtime, Redactor())
        self.premature = 0
        self.readings = 0
        self.down_nodes: tuple[str, ...] = ()

    def sees_down(self, node: str) -> bool:
        self.ready()
        return node in self.down_nodes

    def ready(self) -> bool:
        sample_round(self.watch.samplers(), budget_seconds=10.0)
        status = self.watch.observe(time.time(), None, "blue", None, None)
        self.readings += 1
        self.down_nodes = status.replicas.down_nodes if status.replicas else ()
        if not status.ready:
            return False
        tasks = status.replicas.tasks if status.replicas else ()
        counted = [t for t in tasks if t.counted]
        nodes = {t.node for t in counted}
        honest = len(nodes) == 3 and all(_ready(t.endpoint) for t in counted)
        self.premature += 0 if honest else 1
        return honest


def node_failures(bed: SwarmBed, tmp: Path, trials: int) -> dict[str, object]:
    config = swarm_config(bed, tmp / "trials", TRIAL_PORTS)
    runtime = SwarmRuntime(config.runtime.docker_host, config.swarm)
    premature = readings = 0
    ready_again: list[float] = []
    for index in range(trials):
        victim = bed.workers[index % len(bed.workers)]
        runtime.remove(config.slots["green"].container)
        runtime.start(web_spec(config, "green", "v2"))
        trial = Trial(config, runtime)
        try:
            wait_for("a task running", partial(_running, runtime, config, victim.name), 60, 0.1)
            killed_at = time.monotonic()
            kill_engine(victim.name, victim.directory)
            # Read while it is down (the gate must not pass), until the manager says so.
            wait_for(f"{victim.name} down", partial(trial.sees_down, victim.name), 90, 0.2)
            start_engine(victim.name, victim.directory)
            wait_answering(victim.name, Path(victim.socket), 60)
            wait_for("ready again", trial.ready, 240, 0.2)
            ready_again.append(time.monotonic() - killed_at)
        finally:
            trial.watch.close()
            premature += trial.premature
            readings += trial.readings
    runtime.remove(config.slots["green"].container)
    return {
        "trials": trials,
        "premature_readies": premature,
        "ready_again": len(ready_again),
        "readings": readings,
        "ready_again_p50_s": percentile(ready_again, 50),
        "ready_again_max_s": max(ready_again) if ready_again else None,
    }


def _running(runtime: SwarmRuntime, config: Config, node: str) -> bool:
    replicas = runtime.replicas(config.slots["green"].container)
    return bool(replicas and any(t.node == node for t in replicas.counting))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.swarm_switch", description=__doc__)
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between switches")
    parser.add_argument("--rate", type=int, default=400, help="target POST req/s (hey -q)")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20, help="node kills mid-warm-up")
    args = parser.parse_args(argv)
    require_hey()
    tmp = Path(tempfile.mkdtemp(prefix="bgsb-", dir="/var/tmp"))
    try:
        with swarm_bed("bgsb", "10.77.41") as bed:
            rows = switches(bed, tmp, args)
            failures = node_failures(bed, tmp, args.trials)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_results("swarm_switch", {"switches": rows, "node_failures": failures})
    print(
        table(
            ["setup", "requests", "failed", "switches", "missed", "cutover p50 ms", "p99 ms"],
            [
                [
                    name,
                    fmt(f["requests"]),
                    fmt(f["failed"]),
                    fmt(f["switches"]),
                    fmt(f["missed"]),
                    fmt(f["cutover_p50_ms"]),
                    fmt(f["cutover_p99_ms"]),
                ]
                for name, f in rows.items()
            ],
        )
    )
    print(
        f"\nnode killed mid-warm-up: {failures['ready_again']}/{failures['trials']} ready again "
        f"after rescheduling, {failures['premature_readies']} premature readies in "
        f"{failures['readings']} readings; kill → ready again p50 "
        f"{fmt(failures['ready_again_p50_s'])} s, max {fmt(failures['ready_again_max_s'])} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
