"""A cut-off leader changes nothing (issue 24, "0 mutations by a cut-off agent in 50 trials").

Two agent processes for one service on two "hosts" (network namespaces on a bridge, subnet
10.81; tests/netns_hosts.py), one PostgreSQL on the bridge. The leader holds the agent lease and
changes its proxy without pause — it rewrites its nginx files for the other colour every 20 ms,
each change behind the lease's fence (`Installation.fence_with(lease.confirm)`), as the agent's
proxy and runtime changes are. The standby tries the lease as the agent does (every 0.2 s).

Each trial cuts the leader's link (its connections left open, unanswered), so the leader is
always about to change the proxy when it loses the store. The standby takes the lease once the
server's keepalives end the leader's session; from that instant on, every change the leader
makes is a mutation by a cut-off agent. They are counted from the proxy's files themselves (their
modification times, read by this process), not from the leader's word. Figures: the mutations
after takeover (target: 0 in every trial) and the failover time (cut → standby holds the lease).

    python -m bench.store_fence [--trials 50] [--port 27899]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import fmt, percentile, table, write_results
from bench.shared_store import store_on_bridge
from tests.netns_hosts import Host, hosts

REPO = Path(__file__).resolve().parents[1]
SCHEMA = "bluegreen_fence"
CONFIG = """
service = "fence"
state_dir = "{root}/state"
[store]
url = "{url}"
schema = "{schema}"
[image]
repository = "fence-bench"
[slots.blue]
container = "bgbench-fence-blue"
host_port = 1
[slots.green]
container = "bgbench-fence-green"
host_port = 2
[proxy]
include_dir = "{root}/include"
proxy_url = "http://127.0.0.1:3"
mode = "reload"
"""
# The leader: takes the lease, then changes its proxy every 20 ms, each change fenced.
LEADER = """
import sys, time
from console.core.config.load import load_config
from console.core.fence import LeaseLost
from console.core.fsutil import StateDirError
from console.wiring import open_installation
inst = open_installation(load_config(sys.argv[1]))
while True:  # as the agent does: a store that does not answer yet is waited for
    try:
        if inst.agent_lease.try_acquire():
            break
    except StateDirError:
        pass
    time.sleep(0.2)
inst.fence_with(inst.agent_lease.confirm)
changes = 0
try:
    while True:
        inst.proxy.write_files("green" if changes % 2 else "blue")
        changes += 1
        if changes == 2:
            print("leading", flush=True)
        time.sleep(0.02)
except LeaseLost:
    print(f"stood down after {changes} changes", flush=True)
time.sleep(600)
"""
# The standby: tries the lease as a standing-by agent does; prints the wall time it took it.
STANDBY = """
import sys, time
from console.agent.standby import STANDBY_POLL_SECONDS
from console.core.config.load import load_config
from console.core.fsutil import StateDirError
from console.wiring import open_installation
inst = open_installation(load_config(sys.argv[1]))
print("standing by", flush=True)
while True:
    try:
        if inst.agent_lease.try_acquire():
            break
    except StateDirError:
        pass
    time.sleep(STANDBY_POLL_SECONDS)
print(f"took {time.time_ns()}", flush=True)
time.sleep(600)
"""


def _config(root: Path, url: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "bluegreen.toml"
    path.write_text(CONFIG.format(root=root, url=url, schema=SCHEMA))
    return path


def _run(host: Host, script: str, config: Path) -> subprocess.Popen[str]:
    return host.run(
        [sys.executable, "-c", script, str(config)],
        stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def _line(proc: subprocess.Popen[str], starts: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith(starts):
        raise RuntimeError(f"expected {starts!r} from a bench process, got {line!r}")
    return line


def _changed_after(include: Path, instant_ns: int) -> int:
    """The leader's proxy files modified after `instant_ns` (wall clock, shared by namespaces)."""
    return sum(1 for path in include.rglob("*") if path.stat().st_mtime_ns > instant_ns)


def trial(leader_host: Host, standby_host: Host, root: Path, url: str) -> tuple[int, float]:
    """One cut: (mutations by the cut-off leader after the standby took the lease, failover s)."""
    shutil.rmtree(root, ignore_errors=True)
    leader = _run(leader_host, LEADER, _config(root / "a", url))
    standby = None
    try:
        _line(leader, "leading")
        standby = _run(standby_host, STANDBY, _config(root / "b", url))
        _line(standby, "standing by")
        time.sleep(0.3)  # it has tried at least once: a standby, not a first agent
        leader_host.cut()
        cut = time.time_ns()
        if not _changed_after(root / "a" / "include", cut - 200_000_000):
            raise RuntimeError("the leader was not changing its proxy when its link went down")
        took_ns = int(_line(standby, "took").split()[1])
        time.sleep(1.0)  # the leader would have changed its files ~50 times by now
        mutations = _changed_after(root / "a" / "include", took_ns)
        return mutations, (took_ns - cut) / 1e9
    finally:
        leader_host.mend()
        for proc in (leader, standby):
            if proc is not None:
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--port", type=int, default=27899)
    args = parser.parse_args(argv)
    mutations: list[int] = []
    failover: list[float] = []
    with hosts("bgsf", ["a", "b"], subnet=81) as net, store_on_bridge(net, args.port, SCHEMA) as at:
        _, remote, root = at
        for n in range(args.trials):
            count, seconds = trial(net.members["a"], net.members["b"], root / "t", remote)
            mutations.append(count)
            failover.append(seconds)
            print(f"trial {n + 1}: {count} mutations, failover {seconds:.1f} s", flush=True)
    rows = [
        ["mutations after takeover", str(len(mutations)), str(sum(mutations)),
         str(max(mutations, default=0)), "0 in every trial"],
    ]  # fmt: skip
    print(table(["figure", "trials", "total", "max", "target"], rows))
    print(
        table(
            ["failover (s)", "n", "p50", "p95", "max", "target"],
            [["cut → standby holds the lease", str(len(failover)), fmt(percentile(failover, 50)),
              fmt(percentile(failover, 95)), fmt(max(failover, default=None)), "≤ 30"]],
        )
    )  # fmt: skip
    path = write_results("store_fence", {"mutations": mutations, "failover_s": failover})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
