"""Switch blue↔green N times under keep-alive POST load; count failed requests and time cutovers.

Methods, each through its own private proxy in front of the same two upstreams:
  nginx-live    NginxLiveDriver: Lua shared dict, no reload (the default driver)
  nginx-reload  NginxReloadDriver: render, `nginx -t`, `nginx -s reload`
  haproxy       HaproxyDriver: runtime API on the admin socket, no reload
  old-script    what the old scripts did: `sed -i` the upstream line, `nginx -t`, `nginx -s reload`
                (and no worker_shutdown_timeout, like the old nginx.conf)

Load is `hey` (POST, JSON GraphQL body, keep-alive, rate-limited); a failure is any non-2xx answer
or socket error (EOF, reset) hey reports. Cutover is measured by a separate probe process polling
the proxy every millisecond: command issued → first response from the new colour. Odd switches go
blue→green (cutover), even ones back (rollback). A second phase holds websockets open while
switching and counts nginx workers and how long old ones linger.

    python -m bench.switch_under_load [--switches 100] [--methods nginx-live,old-script]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench.common import (
    HeyLoad,
    LoadResult,
    Probe,
    chosen,
    closed_websockets,
    fmt,
    free_port_or_exit,
    open_websockets,
    percentile,
    ratio,
    require_hey,
    table,
    upstreams,
    write_results,
)
from console.core.config.proxy import HaproxyProxyConfig
from console.core.config.schema import Config, NginxProxyConfig, ProxyConfig, SlotConfig
from console.core.model import Color, other
from console.drivers.proxy import make_proxy
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.nginx.driver import (
    HTTP_FILE,
    LOCATION_FILE,
    render_location_conf,
)
from console.sandbox.haproxy_proc import HaproxyProcess
from console.sandbox.nginx_proc import NginxProcess

PROXY, ADMIN, BLUE, GREEN = 29030, 29031, 29032, 29033
METHODS = ("nginx-live", "nginx-reload", "haproxy", "old-script")
DEFAULT_METHOD = "nginx-live"


@dataclass
class Target:
    """A running proxy and how to switch it; `switch` returns the driver's own cutover, if any."""

    method: str
    switch: Callable[[Color], float | None]
    worker_pids: Callable[[], list[int]]


def _config(tmp: Path, proxy: ProxyConfig) -> Config:
    slots = {
        "blue": SlotConfig(container="bench-blue", host_port=BLUE, db_url="postgresql://x/b"),
        "green": SlotConfig(container="bench-green", host_port=GREEN, db_url="postgresql://x/g"),
    }
    return Config(service="bench", state_dir=str(tmp / "state"), slots=slots, proxy=proxy)


def _nginx_proxy_config(proc: NginxProcess, mode: Literal["live", "reload"]) -> ProxyConfig:
    return NginxProxyConfig(
        mode=mode,
        include_dir=str(proc.include_dir),
        proxy_url=f"http://127.0.0.1:{PROXY}",
        # The admin endpoint on its unix socket, as installed by default (a short path: ≤ 107 B).
        admin_socket=str(proc.prefix_dir.parent / "admin.sock"),
        test_command=proc.test_command(),
        reload_command=proc.reload_command(),
        verify_timeout_seconds=10.0,
    )


def _old_upstream_conf(port: int) -> str:
    # The old scripts' file: one upstream server line that `sed` rewrites. The colour map is ours,
    # only so the probe can tell which colour answered.
    return (
        f'map $upstream_addr $bluegreen_color {{\n    default "";\n'
        f'    "~:{BLUE}$" blue;\n    "~:{GREEN}$" green;\n}}\n'
        'map $http_upgrade $bluegreen_connection {\n    default upgrade;\n    "" "";\n}\n'
        # our location include tests this variable for its "nothing live" 503
        'map $host $bluegreen_live {\n    default "old-script";\n}\n'
        f"upstream bluegreen_backend {{\n    server 127.0.0.1:{port};\n    keepalive 32;\n}}\n"
    )


@contextlib.contextmanager
def running(method: str, tmp: Path) -> Iterator[Target]:
    """The private proxy for `method`, routing to blue, stopped on exit."""
    free_port_or_exit(PROXY)
    if method == "haproxy":
        hap = HaproxyProcess(tmp / "haproxy", PROXY, tmp / "haproxy" / "admin.sock")
        proxy = HaproxyProxyConfig(
            include_dir=str(tmp / "haproxy" / "bluegreen"),
            proxy_url=f"http://127.0.0.1:{PROXY}",
            admin_socket=str(hap.admin_socket),
            verify_timeout_seconds=10.0,
        )
        driver = HaproxyDriver(_config(tmp, proxy))
        hap.write_conf(driver.backend_section(), driver.backend)
        with hap:
            hap.start()
            driver.install("blue")
            yield Target(method, lambda to: driver.switch(to).cutover_ms, hap.worker_pids)
        return
    proc = NginxProcess(tmp / "nginx", PROXY, ADMIN, tmp / "nginx" / "bluegreen")
    proc.write_main_conf()
    if method == "old-script":
        text = proc.conf_path.read_text().replace("worker_shutdown_timeout 10s;\n", "")
        proc.conf_path.write_text(text)
        http_file = proc.include_dir / HTTP_FILE
        http_file.write_text(_old_upstream_conf(BLUE))
        (proc.include_dir / LOCATION_FILE).write_text(render_location_conf("reload"))
        nginx = f"nginx -p {proc.prefix_dir} -c {proc.conf_path}"

        def old_switch(to: Color) -> float | None:
            port = BLUE if to == "blue" else GREEN
            script = (
                f"sed -i 's/server 127.0.0.1:[0-9]*;/server 127.0.0.1:{port};/' {http_file} "
                f"&& {nginx} -t -q && {nginx} -s reload"
            )
            subprocess.run(["bash", "-c", script], check=True, capture_output=True)
            return None

        with proc:
            proc.start()
            yield Target(method, old_switch, proc.worker_pids)
        return
    nginx_driver = make_proxy(
        _config(tmp, _nginx_proxy_config(proc, "live" if method == "nginx-live" else "reload"))
    )
    nginx_driver.write_files("blue")
    with proc:
        proc.start()
        nginx_driver.install("blue")
        yield Target(method, lambda to: nginx_driver.switch(to).cutover_ms, proc.worker_pids)


@dataclass
class SwitchRun:
    cutover_ms: list[float]
    rollback_ms: list[float]
    reported_ms: list[float]
    strays: int  # old-colour answers after the new colour had answered
    missed: int  # switches the probe never saw take effect within 10 s


def switch_many(target: Target, probe: Probe, count: int, interval: float) -> SwitchRun:
    run = SwitchRun([], [], [], 0, 0)
    current: Color = "blue"
    for index in range(count):
        to = other(current)
        issued = time.monotonic()
        reported = target.switch(to)
        seen = probe.wait_for(to, issued)
        time.sleep(interval)
        if seen is None:
            run.missed += 1
        else:
            (run.cutover_ms if index % 2 == 0 else run.rollback_ms).append((seen - issued) * 1e3)
            later = probe.seen_between(seen, time.monotonic())
            run.strays += sum(1 for _, colour in later if colour == current)
        if reported is not None:
            run.reported_ms.append(reported)
        current = to
    if current != "blue":  # leave it on blue for the next phase
        target.switch("blue")
        probe.wait_for("blue", time.monotonic() - 0.001)
    return run


def load_phase(
    target: Target, tmp: Path, switches: int, interval: float, rate: int, connections: int
) -> tuple[LoadResult, SwitchRun, int]:
    with Probe("127.0.0.1", PROXY) as probe:
        if probe.wait_for("blue", 0.0) is None:
            raise RuntimeError(f"{target.method}: the proxy never answered from blue.")
        with HeyLoad(
            f"http://127.0.0.1:{PROXY}/graphql", tmp / "body.json", connections, rate
        ) as hey:
            time.sleep(1.0)  # every hey connection open and kept alive before the first switch
            run = switch_many(target, probe, switches, interval)
            time.sleep(0.5)
            load = hey.stop()
        probe_errors = sum(1 for _, colour in probe.transitions if colour == "error")
    return load, run, probe_errors


def websocket_phase(
    target: Target, count: int, switches: int, linger_timeout: float
) -> dict[str, object]:
    sockets = open_websockets(PROXY, count)
    try:
        before = len(target.worker_pids())
        peak = before
        with Probe("127.0.0.1", PROXY) as probe:
            current: Color = "blue"
            for _ in range(switches):
                to = other(current)
                issued = time.monotonic()
                target.switch(to)
                probe.wait_for(to, issued)
                peak = max(peak, len(target.worker_pids()))
                time.sleep(0.1)
                current = to
        after_switches = len(target.worker_pids())
        settled_at = None
        started = time.monotonic()
        while time.monotonic() - started < linger_timeout:
            workers = len(target.worker_pids())
            peak = max(peak, workers)
            if workers <= before:
                settled_at = time.monotonic() - started
                break
            time.sleep(0.1)
        return {
            "websockets": count,
            "switches": switches,
            "workers_before": before,
            "workers_peak": peak,
            "workers_after_switches": after_switches,
            "workers_at_end": len(target.worker_pids()),
            "old_workers_linger_s": settled_at,
            "linger_timeout_s": linger_timeout,
            "websockets_closed_by_proxy": closed_websockets(sockets),
        }
    finally:
        for sock in sockets:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.switch_under_load", description=__doc__)
    parser.add_argument("--switches", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between switches")
    parser.add_argument("--rate", type=int, default=600, help="target POST req/s (hey -q)")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--websockets", type=int, default=100, help="0 skips the ws phase")
    parser.add_argument("--ws-switches", type=int, default=10)
    parser.add_argument("--linger-timeout", type=float, default=12.0)
    args = parser.parse_args(argv)
    methods = chosen(parser, args.methods, METHODS)
    require_hey()

    results: dict[str, dict[str, object]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bgbench-switch-"))
    try:
        with upstreams([BLUE, GREEN]):
            for method in methods:
                print(f"… {method}: {args.switches} switches under load", flush=True)
                with running(method, tmp / method) as target:
                    load, run, probe_errors = load_phase(
                        target, tmp, args.switches, args.interval, args.rate, args.connections
                    )
                    ws = (
                        websocket_phase(
                            target, args.websockets, args.ws_switches, args.linger_timeout
                        )
                        if args.websockets
                        else None
                    )
                results[method] = summarize(load, run, probe_errors, ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    config = {k: v for k, v in vars(args).items()}
    path = write_results("switch_under_load", {"config": config, "methods": results})
    print_report(results, args.switches)
    print(f"\nJSON: {path}")
    return 0


def summarize(
    load: LoadResult, run: SwitchRun, probe_errors: int, ws: dict[str, object] | None
) -> dict[str, object]:
    def pct(values: list[float], q: float) -> float | None:
        return percentile(values, q)

    return {
        "requests": load.requests,
        "failed": load.failures,
        "req_per_s": round(load.rate, 1),
        "statuses": load.statuses,
        "errors": load.errors,
        "switches": len(run.cutover_ms) + len(run.rollback_ms) + run.missed,
        "missed": run.missed,
        "cutover_ms": {"p50": pct(run.cutover_ms, 50), "p99": pct(run.cutover_ms, 99)},
        "rollback_ms": {"p50": pct(run.rollback_ms, 50), "p99": pct(run.rollback_ms, 99)},
        "driver_reported_ms": {"p50": pct(run.reported_ms, 50), "p99": pct(run.reported_ms, 99)},
        "cutover_samples_ms": [round(v, 2) for v in run.cutover_ms],
        "rollback_samples_ms": [round(v, 2) for v in run.rollback_ms],
        "old_colour_after_cutover": run.strays,
        "probe_errors": probe_errors,
        "websocket_phase": ws,
    }


def print_report(results: dict[str, dict[str, object]], switches: int) -> None:
    def get(method: str, key: str, sub: str | None = None) -> float | None:
        value = results[method][key]
        if sub is not None:
            assert isinstance(value, dict)
            value = value[sub]
        return value if isinstance(value, int | float) else None

    old = "old-script" if "old-script" in results else None
    rows = []
    for method in results:
        rows.append(
            [
                method,
                fmt(get(method, "switches")),
                fmt(get(method, "requests")),
                fmt(get(method, "failed")),
                fmt(get(method, "req_per_s"), 0),
                fmt(get(method, "cutover_ms", "p50")),
                fmt(get(method, "cutover_ms", "p99")),
                fmt(get(method, "rollback_ms", "p50")),
                fmt(get(method, "rollback_ms", "p99")),
                fmt(get(method, "driver_reported_ms", "p99")),
                fmt(get(method, "old_colour_after_cutover")),
                ratio(get(old, "cutover_ms", "p99"), get(method, "cutover_ms", "p99"))
                if old
                else "—",
            ]
        )
    print()
    print(f"Switching under keep-alive POST load ({switches} switches per method)")
    headers = ["method", "switches", "requests", "failed", "req/s", "cut p50", "cut p99"]
    headers += ["back p50", "back p99", "drv p99", "old after", "p99 vs old"]
    print(table(headers, rows))
    print("(ms; cut = blue→green, back = green→blue as seen by a separate probe; drv = the")
    print(" driver's own verified cutover; old after = old-colour answers after the new one)")
    ws_rows = []
    for method, figures in results.items():
        ws = figures["websocket_phase"]
        if not isinstance(ws, dict):
            continue
        linger = ws["old_workers_linger_s"]
        ws_rows.append(
            [
                method,
                fmt(ws["websockets"]),
                fmt(ws["switches"]),
                fmt(ws["workers_before"]),
                fmt(ws["workers_peak"]),
                fmt(ws["workers_after_switches"]),
                fmt(linger, 1) if linger is not None else f"> {ws['linger_timeout_s']:.0f}",
                fmt(ws["websockets_closed_by_proxy"]),
            ]
        )
    if ws_rows:
        print()
        print("Websockets held open while switching")
        headers = ["method", "ws open", "switches", "workers", "peak", "after", "linger s"]
        print(table([*headers, "ws dropped"], ws_rows))


if __name__ == "__main__":
    raise SystemExit(main())
