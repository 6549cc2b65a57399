"""The seed team's session flow end to end (issue 26.1), on a real web sandbox: Docker, nginx in
live mode, the agent, and the web stand-in, which opens sessions (`/login` sets `sid` and
`deployment=VERSION`) and counts them (`GET /api/deployment/active-sessions`).

Sessions opened on blue → `switch --keep-sessions` → new clients on green, old sessions still on
blue until they end → blue retired by the agent at zero sessions. Then rollback stays instant
during a migration: everyone, old sessions included, is back on the old colour at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from console.core.config.load import load_config
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, stop_agent, tear_down

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PORT_BASE = ports.SESSIONS_KEPT.start
SESSIONS = """
[sessions]
cookie = "deployment"        # the web stand-in's: the version the session started on
value = "version"
retire = "auto"
timeout_seconds = 600

[sessions.source]
kind = "http"
url = "http://127.0.0.1:{host_port}/api/deployment/active-sessions"
field = "active"
"""


@pytest.fixture(scope="module")
def web() -> Iterator[Sandbox]:
    world = bring_up(profile="web", port_base=PORT_BASE)
    try:
        stop_agent(world)  # `deploy` starts it again, with the sections below
        text = re.sub(
            r"\[switch\][^\[]*",
            '[switch]\npolicy = "confirm"\nwatch_seconds = 1\nauto_rollback = true\n\n',
            world.config.read_text(),
        )
        world.config.write_text(text + SESSIONS)
        result = world.cli("proxy", "install", "--reload")  # nginx learns the sessions rule
        assert result.returncode == 0, result.stdout + result.stderr
        yield world
    finally:
        tear_down(world.dir)


def wait(what: str, condition: Callable[[], bool], timeout: float, world: Sandbox) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{world.why()}")


def deploy_ready(world: Sandbox, version: str, color: str) -> None:
    result = world.cli("deploy", version, "--switch", "never")
    assert result.returncode == 0, result.stdout + result.stderr
    state = lambda: world.status()["slots"][color]["state"] == "ready"  # noqa: E731
    wait(f"{color} ready", state, 120, world)


def colour(client: httpx.Client, url: str, path: str = "/") -> str:
    response = client.get(url + path)
    assert response.status_code == 200, response.text
    return response.headers["X-Bluegreen-Color"]


def sessions(world: Sandbox) -> dict | None:  # type: ignore[type-arg]
    return world.status()["sessions"]  # type: ignore[no-any-return]


def events(world: Sandbox, kind: str) -> list[str]:
    console = open_console(load_config(str(world.config)), read_only=True)
    try:
        return [e.text for e in console.events() if e.kind == kind]
    finally:
        console.close()


def running(world: Sandbox, color: str) -> bool:
    return bool(world.status()["slots"][color]["container_state"] == "running")


def test_sessions_stay_on_blue_until_they_end_then_blue_is_retired(web: Sandbox) -> None:
    url = web.proxy_url
    old = [httpx.Client(timeout=10) for _ in range(3)]
    try:
        for client in old:  # sessions opened on blue, each with deployment=v1
            assert colour(client, url, "/login") == "blue"
            assert client.cookies.get("deployment") == "v1"
        deploy_ready(web, "v2", "green")
        counted = lambda: sessions(web) is None and _on(web, "blue") == 3  # noqa: E731
        wait("3 sessions counted on blue", counted, 30, web)

        result = web.cli("switch", "--yes", "--keep-sessions")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Sessions kept on blue (cookie deployment=v1)" in result.stdout, result.stdout

        with httpx.Client(timeout=10) as new:  # a new visitor: green
            assert [colour(new, url) for _ in range(5)] == ["green"] * 5
            assert colour(new, url, "/login") == "green"
            assert new.cookies.get("deployment") == "v2"
            assert colour(new, url) == "green"
            assert colour(new, url, "/logout") == "green"  # the next test counts green afresh
        for client in old:  # sessions started on blue stay there
            assert [colour(client, url) for _ in range(5)] == ["blue"] * 5
        view = sessions(web)
        assert view is not None and view["old"] == "blue" and view["new"] == "green", view
        assert view["started_with"] == 3, view

        for client in old[:2]:  # two sessions end; blue keeps serving the third
            assert colour(client, url, "/logout") == "blue"
        wait("1 session left on blue", lambda: _view_on_old(web) == 1, 30, web)
        time.sleep(3)  # a few agent ticks: one session left, so blue must still run
        assert running(web, "blue"), "blue was retired with a session still on it"
        assert colour(old[2], url) == "blue"
        assert not any("Retired" in text for text in events(web, "retire"))
        text = web.cli("status").stdout
        assert "sessions kept on blue: blue 1" in text, text

        assert colour(old[2], url, "/logout") == "blue"  # the last session ends
        wait("blue retired", lambda: not running(web, "blue"), 30, web)
        retired = events(web, "retire")
        assert any("0 sessions left" in text for text in retired), retired
        assert sessions(web) is None
        for client in old:  # their cookie was cleared at logout: green, like everyone
            assert colour(client, url) == "green"
    finally:
        for client in old:
            client.close()


def test_rollback_during_a_migration_is_instant_for_everyone(web: Sandbox) -> None:
    url = web.proxy_url
    deploy_ready(web, "v1", "blue")  # green (v2) is live after the first test
    with httpx.Client(timeout=10) as kept, httpx.Client(timeout=10) as fresh:
        assert colour(kept, url, "/login") == "green"
        wait("a session counted on green", lambda: _on(web, "green") == 1, 30, web)
        result = web.cli("switch", "--yes", "--keep-sessions")
        assert result.returncode == 0, result.stdout + result.stderr
        assert colour(kept, url) == "green" and colour(fresh, url) == "blue"

        result = web.cli("rollback", "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        # Everyone on green at once: the session's client and the fresh one alike.
        assert colour(kept, url) == "green" and colour(fresh, url) == "green"
        assert "Sessions are no longer kept on green" in result.stdout, result.stdout
        assert sessions(web) is None
        assert running(web, "blue"), "a rollback must leave the other colour to the normal path"


def _on(world: Sandbox, color: str) -> int | None:
    """The agent's count of sessions on `color` (through `sessions --json` when no migration
    runs, which has none: read the store's counts through the console instead)."""
    from console.core.store.sessions import counts

    console = open_console(load_config(str(world.config)), read_only=True)
    try:
        seen = counts(console.installation.store)
    finally:
        console.close()
    return seen.on(color) if seen else None  # type: ignore[arg-type]


def _view_on_old(world: Sandbox) -> int | None:
    view = sessions(world)
    return None if view is None else view["on_old"]  # type: ignore[no-any-return]
