"""One agent for a directory of services (console/agent/fleet.py), in-process on real stores and
the real tick: one lease for the process plus one per service; a file added, removed or changed
is picked up and said in that service's events; a broken file is named in the log with its key
and skipped while the others run; a second agent exits at once; a service whose parts hang does
not hold the others. The container engine cannot be reached and the proxy is a small fake (as in
test_agent_parts.py): what is tested is the runner, not the parts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.agent import fleet as fleet_module
from console.agent.fleet import FleetAgent
from console.core.config.fleet import load_fleet
from console.core.config.schema import Config
from console.core.contracts.runtime import Runtime, RuntimeUnavailable
from console.core.installation import Drivers, Installation
from console.core.lock import AgentLease
from console.core.redact import Redactor
from console.core.store.store import Store
from tests.unit.test_agent_parts import FakeNotifier, FakeProxy

HOST = """
state_dir = "{state}"
[readiness]
sample_interval_seconds = 0.2
[candidate]
kind = "none"
[image]
repository = "webapp"
"""
SERVICE = """
[slots.blue]
container = "{name}-blue"
host_port = {blue}
[slots.green]
container = "{name}-green"
host_port = {green}
"""


def _unreachable(config: Config, redactor: Redactor) -> Runtime:
    raise RuntimeUnavailable("Docker is not reachable at unix:///nowhere.sock.")


def _open(config: Config) -> Installation:
    drivers = Drivers(
        runtime=_unreachable,
        proxy=lambda config: FakeProxy(),  # type: ignore[arg-type, return-value]
        notifier=lambda config, redactor: FakeNotifier(),
        parity=lambda config, redactor: None,
    )
    return Installation(config, drivers)


def _write(directory: Path, name: str, port: int) -> None:
    text = SERVICE.format(name=name, blue=port, green=port + 1)
    (directory / f"{name}.toml").write_text(text)


def _wait(what: str, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _events(state: Path, name: str) -> list[str]:
    path = state / name
    if not (path / "bluegreen.db").exists():
        return []
    store = Store.open(path)
    try:
        return [e.text for e in store.events(limit=100)]
    finally:
        store.close()


class Running:
    def __init__(self, directory: Path, opener: Callable[[Config], Installation] = _open) -> None:
        self.lines: list[str] = []
        fleet = load_fleet(str(directory))
        self.agent = FleetAgent(fleet, lambda: load_fleet(str(directory)), opener, "", self.log)
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def log(self, text: str) -> None:
        self.lines.append(text)

    def _run(self) -> None:
        self.code = self.agent.run()

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def stop(self) -> int | None:
        self.agent.stop_requested = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "\n".join(self.lines)
        return self.code


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    monkeypatch.setattr(fleet_module, "RESCAN_SECONDS", 0.3)
    directory, state = tmp_path / "conf", tmp_path / "state"
    directory.mkdir()
    (directory / "host.toml").write_text(HOST.format(state=state))
    _write(directory, "api", 18101)
    _write(directory, "web", 18103)
    (directory / "broken.toml").write_text(SERVICE.format(name="broken", blue=18105, green='"x"'))
    yield directory, state


def test_one_agent_watches_every_service_and_follows_the_directory(
    world: tuple[Path, Path],
) -> None:
    directory, state = world
    running = Running(directory)
    running.thread.start()
    try:
        for name in ("api", "web"):
            _wait(f"{name} watched", lambda n=name: AgentLease(state / n).info().running)  # type: ignore[misc]
            _wait(f"{name} started", lambda n=name: "Agent started." in _events(state, n))  # type: ignore[misc]
        assert AgentLease(state).info().running  # the host-level lease: one agent for the host
        # The broken file is named, with its key, and the others run.
        assert running.said("Service broken") and running.said("slots.green.host_port")
        assert not (state / "broken").exists()
        # A second fleet agent exits at once, naming the first.
        second: list[str] = []
        other = FleetAgent(load_fleet(str(directory)), lambda: load_fleet(str(directory)), _open)
        other._print = second.append
        assert other.run() == 1 and "Another agent already watches" in second[0]

        _write(directory, "docs", 18107)  # added while it runs
        _wait(
            "docs added", lambda: "Agent started watching docs (added)." in _events(state, "docs")
        )
        (directory / "api.toml").unlink()  # removed
        _wait("api stopped", lambda: not AgentLease(state / "api").info().running)
        api = _events(state, "api")
        assert "Agent stopped watching api (file removed)." in api and "Agent stopped." in api
        # Changed: restarted with the new configuration.
        _write(directory, "web", 18111)
        _wait(
            "web restarted",
            lambda: "Agent started watching web (configuration changed)." in _events(state, "web"),
        )
        assert running.agent.runners["web"].config.slot("blue").host_port == 18111
        # Broken while watched: it keeps its previous configuration.
        (directory / "web.toml").write_text("[slots.blue\n")
        _wait("web kept", lambda: running.said("web keeps its previous configuration"))
        assert running.agent.runners["web"].alive
        # The broken file fixed: picked up on the next scan.
        _write(directory, "broken", 18113)
        _wait("broken added", lambda: AgentLease(state / "broken").info().running)
    finally:
        code = running.stop()
    assert code == 0
    for name in ("web", "docs", "broken"):
        assert _events(state, name)[-1] == "Agent stopped.", name
        assert not AgentLease(state / name).info().running
    assert not AgentLease(state).info().running


def test_a_service_that_hangs_holds_only_itself(
    world: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """web's installation never opens (its parts hang): api starts and ticks all the same, stops
    at once on the signal, and the process ends within its stop bound with web still stuck."""
    monkeypatch.setattr(fleet_module, "STOP_WAIT_SECONDS", 2.0)
    directory, state = world
    held = threading.Event()

    def opener(config: Config) -> Installation:
        if config.service == "web":
            held.wait(30)
        return _open(config)

    running = Running(directory, opener)
    running.thread.start()
    try:
        store = Store.open(state / "api") if _wait_for_store(state / "api") else None
        assert store is not None
        try:
            stamps: set[float] = set()

            def ticking() -> bool:
                status = store.slot_status("blue")
                if status is not None:
                    stamps.add(status.updated_at)
                return len(stamps) >= 5  # five ticks of api published while web hangs

            _wait("api ticking", ticking)
        finally:
            store.close()
        assert not (state / "web" / "bluegreen.db").exists()
    finally:
        started = time.monotonic()
        running.agent.stop_requested = True
        running.thread.join(15)
        took = time.monotonic() - started
        held.set()
    assert running.code == 0 and took < 4, took
    assert _events(state, "api")[-1] == "Agent stopped."
    assert running.said("Exiting with web still stopping.")


def _wait_for_store(path: Path) -> bool:
    _wait(f"{path} created", lambda: (path / "bluegreen.db").exists())
    return True


def test_deploy_starts_the_directory_agent_or_asks_it_to_reload(
    world: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `deploy` does for a service of a directory (core/ops/agent_process.py): with no agent,
    it starts the directory's one agent (a real process); for a service that agent does not
    watch yet, it sends SIGHUP instead of starting a second one."""
    import json
    import os
    import signal

    from console.core.ops.agent_process import ensure_agent
    from console.wiring import open_installation

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    directory, state = world
    include = directory.parent / "includes"
    with (directory / "host.toml").open("a") as host:
        host.write(f'[proxy]\ninclude_dir = "{include}"\nmode = "reload"\n')
    fleet = load_fleet(str(directory))
    api = open_installation(fleet.service("api"))
    web = open_installation(fleet.service("web"))
    pid = None
    try:
        # Two deploys at once (two operators, or the sandbox's side-by-side v1): each starts the
        # directory's agent; one wins the host lease, and both services end up watched by it.
        answers: dict[str, tuple[bool, int | None]] = {}
        both = [
            threading.Thread(
                target=lambda i=inst: answers.__setitem__(i.config.service, ensure_agent(i, 30))
            )  # type: ignore[misc]
            for inst in (api, web)
        ]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(40)
        pid = json.loads((state / "agent.json").read_text())["pid"]  # the host lease
        assert answers == {"api": (True, pid), "web": (True, pid)}, answers
        assert ensure_agent(web) == (False, pid)  # watched: nothing to start
        _write(directory, "docs", 18107)
        docs = open_installation(load_fleet(str(directory)).service("docs"))
        try:
            assert ensure_agent(docs, wait_seconds=30) == (True, pid)  # SIGHUP, same process
        finally:
            docs.close()
        log = (state / "agent.log").read_text()
        assert "Reloaded" in log and "SIGHUP" in log, log
    finally:
        api.close()
        web.close()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait("the agent stopped", lambda: not AgentLease(state).info().running)
