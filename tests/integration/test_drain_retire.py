"""Drain-aware retirement on a real web sandbox (Docker, nginx live mode, the agent): after
`keep_previous_seconds` the previous colour is stopped only once its open requests reach 0 —
or `drain_timeout_seconds` later — and the retire event says which.

The long-lived request is a POST whose body is still being sent: nginx has picked (and counted)
its colour as soon as the headers arrived, and it is open until the body is complete and answered.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from console.core.config.load import load_config
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PORT_BASE = ports.DRAIN_RETIRE.start
KEEP, WATCH, DRAIN_TIMEOUT = 2, 1, 10
BODY = b'{"query":"{ ok }"}'


@pytest.fixture(scope="module")
def web() -> Iterator[Sandbox]:
    world = bring_up(profile="web", port_base=PORT_BASE)
    try:
        stop_agent(world)  # `deploy` starts it again, with the [switch] below
        text = re.sub(
            r"\[switch\][^\[]*",
            f'[switch]\npolicy = "confirm"\nwatch_seconds = {WATCH}\nauto_rollback = true\n'
            f"keep_previous_seconds = {KEEP}\ndrain_timeout_seconds = {DRAIN_TIMEOUT}\n\n",
            world.config.read_text(),
        )
        world.config.write_text(text)
        yield world
    finally:
        tear_down(world.dir)


def wait(what: str, condition: Callable[[], bool], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def held_request(proxy_url: str) -> socket.socket:
    """A POST with its headers sent and its body not: open on the colour live now."""
    host, port = proxy_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY[:1]
    )
    return sock


def finish(sock: socket.socket) -> bytes:
    sock.sendall(BODY[1:])
    answer = sock.recv(4096)
    sock.close()
    return answer


def deploy_ready(world: Sandbox, version: str, color: str) -> None:
    result = world.cli("deploy", version, "--switch", "never")
    assert result.returncode == 0, result.stdout + result.stderr
    wait(
        f"{color} ready",
        lambda: world.status()["slots"][color]["state"] == "ready",
        120,
    )


def open_on(world: Sandbox, color: str) -> int | None:
    value: int | None = world.status()["slots"][color]["traffic"]["open_connections"]
    return value


def retire_events(world: Sandbox) -> list[str]:
    console = open_console(load_config(str(world.config)), read_only=True)
    try:
        return [e.text for e in console.events() if e.kind == "retire"]
    finally:
        console.close()


def running(world: Sandbox, color: str) -> bool:
    return bool(world.status()["slots"][color]["container_state"] == "running")


def test_an_open_request_delays_the_stop_until_it_ends(web: Sandbox) -> None:
    deploy_ready(web, "v2", "green")
    sock = held_request(web.proxy_url)
    try:
        wait("the held request counted on blue", lambda: open_on(web, "blue") == 1, 10)
        result = web.cli("switch", "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        switched = time.monotonic()
        time.sleep(KEEP + WATCH + 3)  # past the keep and the watch: only the request holds it
        assert running(web, "blue"), "blue was stopped with a request still open"
        assert open_on(web, "blue") == 1
        assert not retire_events(web)
        answer = finish(sock)
    finally:
        sock.close()
    assert b" 200 " in answer.split(b"\r\n", 1)[0], answer  # served to the end by blue
    ended = time.monotonic()
    stopped = wait("blue stopped", lambda: not running(web, "blue"), 15)
    events = retire_events(web)
    assert len(events) == 1 and "drained: 0 open requests" in events[0], events
    print(
        f"blue stopped {stopped - ended:.1f} s after its request ended, "
        f"{stopped - switched:.1f} s after the switch"
    )
    assert stopped - ended < 6, "the stop came long after the request ended"
    assert stopped - switched < KEEP + WATCH + DRAIN_TIMEOUT, "it waited for the timeout"


def test_a_request_still_open_at_the_drain_timeout_is_cut_and_said(web: Sandbox) -> None:
    deploy_ready(web, "v1", "blue")  # the sandbox builds v1 and v2 only
    sock = held_request(web.proxy_url)
    try:
        wait("the held request counted on green", lambda: open_on(web, "green") == 1, 10)
        result = web.cli("switch", "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        switched = time.monotonic()
        stopped = wait("green stopped", lambda: not running(web, "green"), 60)
    finally:
        sock.close()
    waited = stopped - switched
    print(
        f"green stopped {waited:.1f} s after the switch (keep {KEEP} s + timeout {DRAIN_TIMEOUT} s)"
    )
    assert waited >= KEEP + DRAIN_TIMEOUT - 1, f"stopped after {waited:.1f} s: before the timeout"
    events = retire_events(web)
    assert any("drain timeout with 1 open" in text for text in events), events
