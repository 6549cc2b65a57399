"""One agent process for every service of a configuration directory (issue 23).

Each service gets today's `Agent` (loop.py) on a thread of its own, with its own installation,
lease, samplers and tick, so a part of one service that hangs (its database, its progress source,
its containers) holds that service's threads and never another's tick, sampling or switch. The
process holds a host-level lease in the fleet's state dir, so a second fleet agent exits at once;
each service's own lease tells `status` that it is watched.

The configuration is read again on SIGHUP and when a *.toml file of the directory changes (its
modification time and size, polled every few seconds): a file added starts that service's agent,
a file removed stops it, a changed one restarts it. A service file that does not load is named in
the log with its error and retried at the next reload; one that stops loading while its service
is watched keeps the previous configuration (a typo must not end the watch of a deployment).
One Prometheus exporter serves every service (metrics.py). A single-file configuration does not
come here: it runs `run_agent` (single.py) as before.
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from console.agent.loop import Agent
from console.agent.metrics import ServiceMetrics, metrics_port_problem
from console.agent.standby import lead
from console.agent.stop_watch import StopWatch, thread_stack
from console.agent.systemd import notify
from console.core.actor import AGENT_ACTOR
from console.core.config.coerce import ConfigError
from console.core.config.fleet import Fleet
from console.core.config.schema import Config
from console.core.installation import Installation
from console.core.lock import AgentLease
from console.core.redact import Redactor

RESCAN_SECONDS = 3.0  # how often the directory's *.toml files are looked at
# A service whose agent gave up (another process held its lease, an error) is tried again this
# often: an old single-service agent still running after an upgrade hands over when it ends.
RETRY_SECONDS = 60.0
# READY=1 waits for every service's start (lease, reconcile: each call bounded) at most this long.
START_WAIT_SECONDS = 60.0
STOP_WAIT_SECONDS = 15.0  # within systemd's TimeoutStopSec (30 s); the stop watch speaks at 8 s
# The main thread's beat: signal handlers only set flags, the beat acts on them (a handler that
# took a lock the interrupted main thread holds would deadlock).
_BEAT_SECONDS = 0.2

OpenInstallation = Callable[[Config], Installation]


class ServiceAgent:
    """One service's Agent on its own thread, from its lease to "Agent stopped."."""

    def __init__(
        self,
        config: Config,
        open_installation: OpenInstallation,
        log: Callable[[str], None],
        because: str = "",
    ) -> None:
        self.config = config
        self.name = config.service
        self.because = because  # recorded once it runs: why it was started after the others
        self.farewell = ""  # recorded when it stops: why it was stopped while the fleet runs
        self.stopping = threading.Event()
        self.started = threading.Event()  # ticking, or given up
        self.ended_at: float | None = None  # when its thread ended (monotonic)
        self.metrics: ServiceMetrics | None = None
        self._open = open_installation
        self._log = log
        self._redactor = Redactor(config.secret_values)
        self.thread = threading.Thread(target=self._run, name=f"agent-{self.name}", daemon=True)

    def log(self, text: str) -> None:
        self._log(f"[{self.name}] {self._redactor.redact(text)}")

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def start(self) -> None:
        self.thread.start()

    def stop(self, farewell: str = "") -> None:
        self.farewell = farewell
        self.stopping.set()

    def _run(self) -> None:
        try:
            inst = self._open(self.config)
        except Exception as exc:  # one service's failure is never the fleet's
            self.log(f"cannot open its installation: {exc!r}")
            self.started.set()
            return
        try:
            self._watch(inst)
        except Exception as exc:
            self.log(f"stopped on an error: {exc!r}. It is retried at the next reload.")
            inst.agent_lease.release()
        finally:
            self.metrics = None
            self.started.set()
            inst.close()
            self.ended_at = time.monotonic()

    def _watch(self, inst: Installation) -> None:
        # A shared store: another host's agent may lead; this one stands by (started, not
        # ticking) until it may act, or until it is stopped.
        if inst.config.store.shared:
            self.started.set()
        if not lead(inst, self.log, self.stopping):
            if not inst.config.store.shared:
                self.log("It is retried at the next reload.")
            return
        agent = Agent(inst, self.log, self.stopping)
        self.metrics = agent.metrics_source()
        actor = str(AGENT_ACTOR)

        def ready() -> None:
            if self.because:
                inst.store.record_event("agent", self.because, "info", actor)
                self.log(self.because)
            self.started.set()

        def winding_down() -> None:
            self.metrics = None
            if self.farewell:
                inst.store.record_event("agent", self.farewell, "info", actor)
                self.log(self.farewell)

        agent.watch(ready, winding_down)


class FleetAgent:
    """The agent of every service in a configuration directory; `run()` until SIGTERM."""

    def __init__(
        self,
        fleet: Fleet,
        load: Callable[[], Fleet],
        open_installation: OpenInstallation,
        metrics_listen: str = "",
        log: Callable[[str], None] = print,
    ) -> None:
        self.fleet = fleet
        self.load = load
        self.open_installation = open_installation
        self.metrics_listen = metrics_listen
        self._print = log
        self.redactor = _fleet_redactor(fleet)
        self.runners: dict[str, ServiceAgent] = {}
        self.retiring: list[ServiceAgent] = []  # stopped, their thread not ended yet
        self.pending: dict[str, str] = {}  # name → why it starts once its old agent has ended
        self.view: tuple[ServiceAgent, ...] = ()  # what the exporter's thread reads
        self.stop_requested = False  # set by SIGTERM/SIGINT
        self.reload_requested = False  # set by SIGHUP
        self.stopping = threading.Event()
        self.exporter: Any = None
        self._files = _toml_files(fleet)

    def log(self, text: str) -> None:
        self._print(self.redactor.redact(text))

    # ── lifecycle ──
    def run(self) -> int:
        lease = AgentLease(self.fleet.state_dir)
        if not lease.try_acquire():
            self.log(
                f"Another agent already watches {self.fleet.state_dir} (pid {lease.info().pid}); "
                "exiting."
            )
            return 1
        try:
            self._ensure_exporter()
        except OSError as exc:
            self.log(metrics_port_problem(self.metrics_listen, exc))
            lease.release()
            return 1
        try:
            self._say_skipped()
            if not self.fleet.services:
                self.log(f"No service in {self.fleet.path} loads yet; waiting for one.")
            for config in self.fleet:
                self._start(config)
            self._wait_started()
            notify("READY=1")  # Type=notify: every service's agent has started (or given up)
            watching = [r.name for r in self.view if r.alive]
            self.log(f"Watching {', '.join(watching) or 'no service'} ({self.fleet.path}).")
            last_scan = time.monotonic()
            while not self.stop_requested:
                time.sleep(_BEAT_SECONDS)
                if self.reload_requested:
                    self.reload_requested = False
                    self.reload("SIGHUP")
                elif time.monotonic() - last_scan >= RESCAN_SECONDS:
                    last_scan = time.monotonic()
                    files = _toml_files(self.fleet)
                    if files != self._files:
                        self.reload("a file changed")
                    else:
                        self._retry_given_up()
                self._settle()
        finally:
            self._stop_all()
            lease.release()
        return 0

    def _wait_started(self) -> None:
        deadline = time.monotonic() + START_WAIT_SECONDS
        for runner in self.view:
            while not runner.started.wait(_BEAT_SECONDS):
                if self.stop_requested or time.monotonic() > deadline:
                    waiting = [r.name for r in self.view if not r.started.is_set()]
                    if waiting and not self.stop_requested:
                        self.log(f"Still starting after {START_WAIT_SECONDS:.0f} s: {waiting}.")
                    return

    def _stop_all(self) -> None:
        notify("STOPPING=1")
        self.stopping.set()  # the stop watch's cue
        runners = [*self.runners.values(), *self.retiring]
        for runner in runners:
            runner.stop()
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for runner in runners:
            runner.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [r.name for r in runners if r.alive]
        if stuck:
            self.log(f"Exiting with {', '.join(stuck)} still stopping.")
        if self.exporter is not None:
            self.exporter.shutdown()
            self.exporter.server_close()

    def stuck_services(self) -> str:
        """For the stop watch: the stack of each service's thread that has not ended."""
        stuck = [r for r in (*self.runners.values(), *self.retiring) if r.alive]
        if not stuck:
            return "every service has stopped; the main thread is closing the rest."
        return "".join(f"\n[{r.name}] is at:\n{thread_stack(r.thread)}" for r in stuck)

    # ── services coming and going ──
    def _start(self, config: Config, because: str = "") -> None:
        runner = ServiceAgent(config, self.open_installation, self.log, because)
        self.runners[config.service] = runner
        self.view = tuple(self.runners.values())
        runner.start()

    def _retire(self, name: str, farewell: str, then_start: str = "") -> None:
        runner = self.runners.pop(name)
        runner.stop(farewell)
        self.retiring.append(runner)
        self.view = tuple(self.runners.values())
        if then_start:
            self.pending[name] = then_start

    def _settle(self) -> None:
        """Start the services waiting for their previous agent to end (a restart, a re-add)."""
        self.retiring = [r for r in self.retiring if r.alive]
        ending = {r.name for r in self.retiring}
        for name in [n for n in self.pending if n not in ending]:
            because = self.pending.pop(name)
            config = self.fleet.services.get(name)
            if config is not None and name not in self.runners:
                self._start(config, because)

    def _retry_given_up(self) -> None:
        now = time.monotonic()
        for name, runner in list(self.runners.items()):
            ended = runner.ended_at
            if not runner.stopping.is_set() and ended is not None and now - ended >= RETRY_SECONDS:
                self._retire(name, "", f"Agent started watching {name} (retried).")

    def reload(self, why: str) -> None:
        self._files = _toml_files(self.fleet)
        try:
            fleet = self.load()
        except ConfigError as exc:
            self.log(
                f"Reload ({why}): {exc} Every service keeps its previous configuration; fix it "
                "and it is read again."
            )
            return
        self.fleet, self.redactor = fleet, _fleet_redactor(fleet)
        self.log(f"Reloaded {fleet.path} ({why}): {len(fleet.services)} service(s).")
        self._say_skipped()
        for name, runner in list(self.runners.items()):
            config = fleet.services.get(name)
            if name in fleet.skipped:  # stopped loading: keep watching with what loaded before
                self.log(f"{name} keeps its previous configuration until its file loads again.")
            elif config is None:
                self._retire(name, f"Agent stopped watching {name} (file removed).")
            elif config != runner.config:
                self._retire(
                    name,
                    f"Agent stopped watching {name} to restart it (configuration changed).",
                    f"Agent started watching {name} (configuration changed).",
                )
            elif not runner.alive:  # it gave up (another agent held its lease, an error)
                self._retire(name, "", f"Agent started watching {name} (retried).")
        for name in fleet.services:
            if name not in self.runners and name not in self.pending:
                self.pending[name] = f"Agent started watching {name} (added)."
        self._settle()
        try:
            self._ensure_exporter()
        except OSError as exc:
            self.log(metrics_port_problem(self.metrics_listen, exc))

    def _say_skipped(self) -> None:
        for why in self.fleet.skipped.values():
            self.log(f"{why} The other services run; it is read again when its file changes.")

    # ── metrics ──
    def _ensure_exporter(self) -> None:
        listen = self.metrics_listen or next((c.metrics.listen for c in self.fleet), "")
        if self.exporter is not None or not listen:
            return
        from console.agent.metrics import serve
        from console.core.config.checks import parse_listen

        self.metrics_listen = listen
        self.exporter = serve(parse_listen(listen), self._metrics_sources)
        self.log(f"Prometheus metrics on http://{listen}/metrics")

    def _metrics_sources(self) -> Iterator[ServiceMetrics]:
        for runner in self.view:  # a tuple the main thread replaces, never changes
            if runner.metrics is not None:
                yield runner.metrics


def _toml_files(fleet: Fleet) -> dict[str, tuple[int, int]]:
    """Each *.toml of the directory: (modification time, size), the cheap change test."""
    files: dict[str, tuple[int, int]] = {}
    for path in Path(fleet.path).glob("*.toml"):
        try:
            stat = path.stat()
        except OSError:
            continue  # removed between the listing and the stat: the next scan sees it gone
        files[path.name] = (stat.st_mtime_ns, stat.st_size)
    return files


def _fleet_redactor(fleet: Fleet) -> Redactor:
    return Redactor(secret for config in fleet for secret in config.secret_values)


def run_fleet_agent(
    fleet: Fleet,
    load: Callable[[], Fleet],
    open_installation: OpenInstallation,
    metrics_listen: str | None = None,
) -> int:
    """Run the agent of every service of `fleet` (a directory) until SIGTERM; `load` reads the
    fleet again (SIGHUP, a file changed). `metrics_listen` overrides host.toml's [metrics]."""

    def log(text: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}", flush=True)

    agent = FleetAgent(fleet, load, open_installation, metrics_listen or "", log)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        agent.stop_requested = True

    def on_reload(signum: int, frame: FrameType | None) -> None:
        # Also what an SSH session's hang-up sends a foreground agent: a reload is harmless.
        agent.reload_requested = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # every thread's stack to the log
    stop_watch = StopWatch(agent.stopping, log, where=agent.stuck_services)
    try:
        return agent.run()
    finally:
        stop_watch.done()
        sys.stdout.flush()
