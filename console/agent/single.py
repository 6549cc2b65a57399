"""The agent of a single-file configuration, alone in its process (`bluegreen agent`).

The process's part of the agent, apart from the tick loop (loop.py): signals, the lease (a second
agent exits; with a shared store it stands by, standby.py), the Prometheus exporter, systemd's
READY=1 / STOPPING=1, and where a stop is stuck. A directory of services runs fleet.py instead,
which does the same once for every service's Agent.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
from functools import partial
from types import FrameType
from typing import Any

from console.agent.loop import Agent
from console.agent.metrics import metrics_port_problem
from console.agent.standby import lead
from console.agent.stop_watch import StopWatch
from console.agent.systemd import notify
from console.core.installation import Installation


def run_agent(inst: Installation, metrics_listen: str | None = None) -> int:
    """Run the agent; `metrics_listen` ("HOST:PORT", validated by the caller) overrides
    `[metrics] listen` and turns the Prometheus exporter on."""

    def log(text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        print(f"{stamp} {inst.redactor.redact(text)}", flush=True)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The lease first: a second agent exits (a shared store: stands by) before it opens the
    # proxy or the notifier (Agent.__init__ hands them to its watchers).
    if not lead(inst, log, stopping):
        inst.close()
        return 0 if stopping.is_set() else 1  # stopped while standing by: a clean stop
    agent = Agent(inst, log, stopping)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the operator's SSH session ending is not our end
    # `kill -USR1 PID` writes every thread's stack to the agent's log: what a hung agent waits on.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    stop_watch = StopWatch(agent.stopping, log)
    try:
        return _serve(agent, metrics_listen or inst.config.metrics.listen)
    finally:
        stop_watch.done()
        inst.close()
        sys.stdout.flush()


def _serve(agent: Agent, metrics_listen: str) -> int:
    """The exporter, systemd, the ticks (the lease taken)."""
    try:
        exporter = _start_exporter(agent, metrics_listen)
    except OSError as exc:
        agent.log(metrics_port_problem(metrics_listen, exc))
        agent.inst.agent_lease.release()
        return 1

    def winding_down() -> None:
        notify("STOPPING=1")
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()

    # Type=notify: READY=1 once the lease is held and the store reconciled.
    return agent.watch(ready=partial(notify, "READY=1"), winding_down=winding_down)


def _start_exporter(agent: Agent, listen: str) -> Any:
    """Prometheus metrics on "HOST:PORT" while this agent runs; None when not asked for."""
    if not listen:
        return None
    from console.agent.metrics import serve
    from console.core.config.checks import parse_listen

    server = serve(parse_listen(listen), lambda: [agent.metrics_source()])
    agent.log(f"Prometheus metrics on http://{listen}/metrics")
    return server
