"""Two edge proxies, one failing mid-switch: do both end on one colour, and for how long do they
route differently? (issue 25.3's figure)

Two private nginx edges in live mode on loopback (tests/integration/edges_world.py) front one pair
of stand-in colours and are driven as one composite (console/drivers/proxy/edges). Each trial
switches both to the other colour while edge-1 fails at a random moment 0–15 ms into its own
switch call — SIGKILLed (then restarted from its files, as a supervisor would) or SIGSTOPped (then
continued). Then the agent's reconciler step runs (`converge`: the recorded intent re-applied to
an edge that differs) until the edges agree. A prober per edge asks its edge every ~2 ms which
colour serves; the trial's *mixed window* is the time during which the two edges' latest answers
named different colours. Printed per fault:

- trials that ended with both edges on one colour (the target is all of them);
- switches that failed (and were put back) and that went through on both;
- the mixed window p50/p95/max, and the switch call's own time p50/p95.

    python -m bench.edges_switch [--trials 100] [--faults kill,hang]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import chosen, fmt, percentile, table, write_results
from console.core.contracts.proxy import COLOR_HEADER, ProxyError
from console.core.model import Color, other
from console.drivers.proxy.edges.composite import EdgeSet
from console.sandbox.nginx_proc import NginxProcess
from tests import ports
from tests.integration.edges_world import (
    kill,
    loopback_nginx_edges,
    pause,
    process_pids,
    resume,
)

FAULTS = ("kill", "hang")
PROBE_INTERVAL_SECONDS = 0.002
CONVERGE_TRIES = 20


class Prober:
    """One thread per edge: (time, colour) of every answer; an edge that does not answer adds
    nothing, so its latest answer stands (a stopped or dead edge keeps its routing)."""

    def __init__(self, urls: list[str]) -> None:
        self.seen: list[list[tuple[float, str]]] = [[] for _ in urls]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(i, url), daemon=True)
            for i, url in enumerate(urls)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self, index: int, url: str) -> None:
        client = httpx.Client(trust_env=False, timeout=0.5)
        while not self._stop.is_set():
            try:
                colour = client.get(f"{url}/health").headers.get(COLOR_HEADER)
            except httpx.HTTPError:
                client.close()
                client = httpx.Client(trust_env=False, timeout=0.5)
                colour = None
            if colour:
                self.seen[index].append((time.perf_counter(), colour))
            time.sleep(PROBE_INTERVAL_SECONDS)
        client.close()

    def mixed_seconds(self, start: float, end: float) -> float:
        """Time in [start, end] during which the edges' latest answers named different colours."""
        events = sorted((t, i, c) for i, seen in enumerate(self.seen) for t, c in seen if t <= end)
        latest: dict[int, str] = {}
        mixed, since = 0.0, None
        for at, index, colour in events:
            latest[index] = colour
            differ = len(latest) == len(self.seen) and len(set(latest.values())) > 1
            if differ and since is None:
                since = max(at, start)
            elif not differ and since is not None:
                mixed += max(0.0, at - since) if at >= start else 0.0
                since = None
        if since is not None:
            mixed += end - since
        return mixed

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)


@dataclass
class Row:
    fault: str
    trials: int = 0
    agreeing: int = 0
    failed_switches: int = 0
    mixed_ms: list[float] = field(default_factory=list)
    switch_ms: list[float] = field(default_factory=list)
    messages_naming_host: int = 0
    example: str = ""  # one failed switch's paragraph, as the operator reads it


def trial(edges: EdgeSet, proc: NginxProcess, prober: Prober, fault: str, row: Row) -> None:
    """One switch with edge-1 failing mid-switch, then recovery and convergence."""
    now = edges.read_back().color or "blue"
    to: Color = other(now)
    delay = random.uniform(0.0, 0.015)
    act: Callable[[], None] = (
        (lambda: kill(process_pids(proc)))
        if fault == "kill"
        else (lambda: pause(process_pids(proc)))
    )
    driver = edges.edges[1].driver
    original = driver.switch

    def faulty(color: Color) -> object:
        driver.switch = original  # type: ignore[method-assign]
        threading.Timer(delay, act).start()
        return original(color)

    driver.switch = faulty  # type: ignore[method-assign]
    start = time.perf_counter()
    try:
        edges.switch(to)
    except ProxyError as exc:
        row.failed_switches += 1
        row.messages_naming_host += edges.edges[1].label in str(exc)
        row.example = row.example or str(exc)
    row.switch_ms.append((time.perf_counter() - start) * 1000)
    time.sleep(delay + 0.01)  # the timer has fired whatever happened
    recover(edges, proc, fault)
    agreed = converged(edges)
    end = time.perf_counter()
    row.trials += 1
    row.agreeing += agreed
    row.mixed_ms.append(prober.mixed_seconds(start, end) * 1000)


def recover(edges: EdgeSet, proc: NginxProcess, fault: str) -> None:
    if fault == "hang":
        resume(process_pids(proc))
        return
    proc.stop()  # reaps the killed master
    edges.edges[1].driver.admin.remove_stale_socket()  # type: ignore[attr-defined]
    proc.start()  # from its files, as systemd would restart it


def converged(edges: EdgeSet) -> bool:
    """The agent's step until every edge answers and agrees (each try is one tick)."""
    for _ in range(CONVERGE_TRIES):
        edges.converge()
        readings = edges.edge_readings()
        if all(r.seen.answered for r in readings) and len({r.seen.color for r in readings}) == 1:
            return True
        time.sleep(0.1)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--faults", default="kill,hang", help="alternated: kill, hang")
    args = parser.parse_args()
    faults = chosen(parser, args.faults, FAULTS)
    rows = {fault: Row(fault) for fault in faults}
    with (
        tempfile.TemporaryDirectory(prefix="bg-edges-bench-") as tmp,
        loopback_nginx_edges(Path(tmp), ports.EDGES_BENCH_SMOKE) as (edges, procs),
    ):
        urls = [e.driver.client_url for e in edges.edges]  # type: ignore[attr-defined]
        prober = Prober(urls)
        try:
            for index in range(args.trials):
                fault = faults[index % len(faults)]
                trial(edges, procs[1], prober, fault, rows[fault])
        finally:
            prober.close()
    report(list(rows.values()))


def report(rows: list[Row]) -> None:
    headers = [
        "fault", "trials", "on one colour", "failed+put back", "named host",
        "mixed p50 ms", "mixed p95 ms", "mixed max ms", "switch p50 ms", "switch p95 ms",
    ]  # fmt: skip
    body = [
        [
            r.fault,
            fmt(r.trials),
            f"{r.agreeing}/{r.trials}",
            fmt(r.failed_switches),
            fmt(r.messages_naming_host),
            fmt(percentile(r.mixed_ms, 50)),
            fmt(percentile(r.mixed_ms, 95)),
            fmt(max(r.mixed_ms, default=None)),
            fmt(percentile(r.switch_ms, 50)),
            fmt(percentile(r.switch_ms, 95)),
        ]
        for r in rows
    ]
    print(table(headers, body))
    for r in rows:
        if r.example:
            print(f"\n{r.fault}, one failed switch as the operator reads it:\n  {r.example}")
    every = [m for r in rows for m in r.mixed_ms]
    total = sum(r.trials for r in rows)
    agreeing = sum(r.agreeing for r in rows)
    print(
        f"\n{agreeing}/{total} trials ended with both edges on one colour; mixed window p95 "
        f"{fmt(percentile(every, 95))} ms over all trials."
    )
    write_results(
        "edges_switch",
        {
            "trials": total,
            "agreeing": agreeing,
            "mixed_p95_ms": percentile(every, 95),
            "rows": [
                {
                    "fault": r.fault,
                    "trials": r.trials,
                    "agreeing": r.agreeing,
                    "failed_switches": r.failed_switches,
                    "messages_naming_host": r.messages_naming_host,
                    "mixed_p50_ms": percentile(r.mixed_ms, 50),
                    "mixed_p95_ms": percentile(r.mixed_ms, 95),
                    "mixed_max_ms": max(r.mixed_ms, default=None),
                    "switch_p50_ms": percentile(r.switch_ms, 50),
                    "switch_p95_ms": percentile(r.switch_ms, 95),
                }
                for r in rows
            ],
        },
    )


if __name__ == "__main__":
    main()
