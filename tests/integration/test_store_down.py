"""PostgreSQL down or stalled across a whole switch (issue 24, point 5), end to end: the web
sandbox (real nginx, real containers: v1 live in blue, v2 deployed into green) with its store,
operator lock and agent lease moved to a private PostgreSQL, and a real agent leading.

The store is stalled (SIGSTOP: its kernel still acknowledges, nothing times out by itself) or
killed (`pg_ctl stop -m immediate`: every session dies, the locks with them):
- before a switch: the switch refuses in one paragraph, and nothing moves;
- during one, after the lock is taken: before the proxy changes, it stops there and says traffic
  stayed; after the proxy changed, it says traffic moved and was not recorded — and once the
  store is back, `status` reports exactly what the proxy routes (the agent records it);
- meanwhile `status` says the store is unreachable and shows the last state with its age;
- when it returns, the agent takes its lease again by itself.
The store URL's password appears in no output and no log of any of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.core.config.load import load_config
from console.core.model import Actor, Outcome
from console.sandbox.postgres_proc import PostgresServer
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down
from tests.store_sites import down, postgres_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD = 90.0


class World:
    def __init__(self, web: Sandbox, server: PostgresServer) -> None:
        self.web = web
        self.server = server
        self.url = server.url("store")
        self.env = {**os.environ, "STORE_URL": self.url, "PYTHONPATH": str(REPO)}
        self.config = web.config
        self.log = web.dir / "shared-agent.log"
        self.agent: subprocess.Popen[bytes] | None = None
        self.said: list[str] = []  # every output and message, to look for the password

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "console", "--config", str(self.config), *args],
            capture_output=True, text=True, env=self.env, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.said += [result.stdout, result.stderr]
        return result

    def status(self) -> dict[str, Any] | None:
        result = self.cli("status", "--json")
        return json.loads(result.stdout) if result.returncode == 0 else None

    def start_agent(self) -> None:
        with self.log.open("ab") as log:
            self.agent = subprocess.Popen(
                [sys.executable, "-m", "console", "--config", str(self.config), "agent"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
            )  # fmt: skip

    def leads(self) -> bool:
        status = self.status()
        return bool(status and self.agent and status["agent"]["pid"] == self.agent.pid)

    def down(self, how: str) -> Callable[[], None]:
        """Stall or kill the store; returns what brings it back."""
        return down(self.server, how)


def wait(what: str, ok: Callable[[], bool], timeout: float = HANG_GUARD) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ok():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    web = bring_up(profile="web", port_base=ports.STORE_DOWN.start)
    try:
        with postgres_server(ports.STORE_DOWN_PG) as server:
            stop_agent(web)  # the sandbox's own, on SQLite; ours leads on the shared store
            text = web.config.read_text()
            web.config.write_text(text + '\n[store]\nurl = "${STORE_URL}"\n')
            world = World(web, server)
            world.start_agent()
            try:
                wait("the agent leads on the shared store", world.leads)
                assert world.cli("deploy", "v2", "--switch", "never").returncode == 0
                wait("green ready", lambda: _ready(world, "green"), 120)
                world.status()  # this host now remembers a last state
                yield world
            finally:
                if world.agent is not None:
                    world.agent.send_signal(signal.SIGTERM)
                    try:
                        world.agent.wait(30)
                    except subprocess.TimeoutExpired:
                        world.agent.kill()
                        world.agent.wait()
                said = "\n".join(world.said) + world.log.read_text(errors="replace")
                assert server.password not in said, "the store's password was shown"
    finally:
        tear_down(web.dir)


def _ready(world: World, color: str) -> bool:
    status = world.status()
    return bool(status and status["slots"][color]["ready"])


def _back(world: World, resume: Callable[[], None]) -> None:
    """The store returns: the agent leads again by itself, and status answers."""
    resume()
    try:
        wait("the agent leads again", world.leads)
    except AssertionError:
        last = world.cli("status")
        tail = world.log.read_text(errors="replace").splitlines()[-30:]
        raise AssertionError(
            "the agent did not lead again; status: "
            + last.stdout[-1500:]
            + last.stderr[-1500:]
            + "\nagent log:\n"
            + "\n".join(tail)
        ) from None


@pytest.mark.parametrize("how", ["stalled", "killed"])
def test_a_switch_with_the_store_down_refuses_and_status_shows_the_last_state(
    world: World, how: str
) -> None:
    assert world.web.served_by() == "blue"
    resume = world.down(how)
    try:
        refused = world.cli("switch", "--yes")
        shown = world.cli("status")
    finally:
        _back(world, resume)
    text = refused.stdout + refused.stderr
    assert refused.returncode == 1 and "Traceback" not in text
    assert "unreachable" in text and "nothing was changed" in text, text
    assert len(text.strip().splitlines()) == 1, text  # one paragraph
    assert world.web.served_by() == "blue"  # nothing moved
    assert shown.returncode == 1 and "The store is unreachable" in shown.stderr, shown.stderr
    assert "Below is the last state this host read, at " in shown.stderr
    assert " ago)" in shown.stderr and "blue" in shown.stdout  # the last state, its age
    assert world.status() is not None and world.status()["live"] == "blue"  # type: ignore[index]


def _switch_in_process(world: World, arm: Callable[[Any], None]) -> Outcome:
    """A switch by this process (an operator's), with `arm(console)` placing the failure."""
    os.environ["STORE_URL"] = world.url
    console = open_console(load_config(str(world.config)))
    try:
        arm(console)
        outcome = None
        for event in console.switch(Actor("carol")):
            world.said.append(getattr(event, "text", ""))
            if isinstance(event, Outcome):
                outcome = event
        assert outcome is not None
        return outcome
    finally:
        console.close()
        os.environ.pop("STORE_URL", None)


def test_the_store_killed_after_the_lock_before_the_proxy_stops_the_switch(world: World) -> None:
    resumes: list[Callable[[], None]] = []

    def arm(console: Any) -> None:
        lock = console.installation.lock
        real = lock.confirm

        def store_dies_then_confirm() -> bool:  # asked before the proxy would change
            if not resumes:
                resumes.append(world.down("killed"))
            return bool(real())

        lock.confirm = store_dies_then_confirm

    try:
        outcome = _switch_in_process(world, arm)
    finally:
        _back(world, resumes[0] if resumes else lambda: None)
    assert not outcome.ok and "is no longer held" in outcome.text, outcome.text
    assert outcome.text.endswith("Traffic stays on blue.")
    assert world.web.served_by() == "blue"
    status = world.status()
    assert status is not None and status["live"] == "blue"  # what the proxy routes


@pytest.mark.parametrize("how", ["stalled", "killed"])
def test_the_store_down_after_the_proxy_changed_says_so_and_the_agent_records_it(
    world: World, how: str
) -> None:
    start = world.web.served_by()
    assert start in ("blue", "green")
    target = "green" if start == "blue" else "blue"
    wait(f"{target} ready", lambda: _ready(world, target), 120)
    resumes: list[Callable[[], None]] = []

    def arm(console: Any) -> None:
        proxy = console.installation.proxy  # the fence in front of the real driver
        driver = proxy._target
        real = driver.switch

        def switch_then_store_down(to: str) -> Any:
            result = real(to)  # the real proxy changes and is verified
            resumes.append(world.down(how))
            return result

        driver.switch = switch_then_store_down

    try:
        outcome = _switch_in_process(world, arm)
        assert world.web.served_by() == target  # traffic moved, whatever the store
    finally:
        _back(world, resumes[0] if resumes else lambda: None)
    assert outcome.ok, outcome.text
    assert f"traffic is on {target}" in outcome.text and "it is not recorded" in outcome.text
    assert "unreachable" in outcome.text
    wait(
        "status reports what the proxy routes",
        lambda: (world.status() or {}).get("live") == target,
    )
    assert world.web.served_by() == target
    events = world.cli("history", "--json")
    assert events.returncode == 0
