"""The seed team's session flow end to end (issue 26.1), on a real web sandbox: Docker, nginx in
live mode, the agent, and the web stand-in, which opens sessions (`/login` sets `sid` and
`deployment=VERSION`) and counts them (`GET /api/deployment/active-sessions`).

Sessions opened on blue → `switch --keep-sessions` → new clients on green, old sessions still on
blue until they end → blue retired by the agent at zero sessions. Then rollback stays instant
during a migration: everyone, old sessions included, is back on the old colour at once. Last, the
same sandbox's nginx is put in reload mode and the flow runs once more (green → blue).
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
    seed_flow(web, old="blue", new="green", old_version="v1", new_version="v2")


def seed_flow(world: Sandbox, old: str, new: str, old_version: str, new_version: str) -> None:
    """Sessions opened on `old` → switch keeping them → new clients on `new`, old sessions on
    `old` until they end → `old` retired by the agent at zero sessions."""
    url = world.proxy_url
    kept = [httpx.Client(timeout=10) for _ in range(3)]
    try:
        for client in kept:  # sessions opened on the old colour, each with its version's cookie
            assert colour(client, url, "/login") == old
            assert client.cookies.get("deployment") == old_version
        deploy_ready(world, new_version, new)
        counted = lambda: sessions(world) is None and _on(world, old) == 3  # noqa: E731
        wait(f"3 sessions counted on {old}", counted, 30, world)

        result = world.cli("switch", "--yes", "--keep-sessions")
        assert result.returncode == 0, result.stdout + result.stderr
        expected = f"Sessions kept on {old} (cookie deployment={old_version})"
        assert expected in result.stdout, result.stdout

        with httpx.Client(timeout=10) as fresh:  # a new visitor: the new colour
            assert [colour(fresh, url) for _ in range(5)] == [new] * 5
            assert colour(fresh, url, "/login") == new
            assert fresh.cookies.get("deployment") == new_version
            assert colour(fresh, url) == new
            assert colour(fresh, url, "/logout") == new  # the next test counts afresh
        for client in kept:  # sessions started on the old colour stay there
            assert [colour(client, url) for _ in range(5)] == [old] * 5
        view = sessions(world)
        assert view is not None and view["old"] == old and view["new"] == new, view
        assert view["started_with"] == 3, view

        for client in kept[:2]:  # two sessions end; the old colour keeps serving the third
            assert colour(client, url, "/logout") == old
        wait(f"1 session left on {old}", lambda: _view_on_old(world) == 1, 30, world)
        time.sleep(3)  # a few agent ticks: one session left, so the old colour must still run
        assert running(world, old), f"{old} was retired with a session still on it"
        assert colour(kept[2], url) == old
        assert not any(f"Retired {old}" in text for text in events(world, "retire"))
        text = world.cli("status").stdout
        assert f"sessions kept on {old}: {old} 1" in text, text

        assert colour(kept[2], url, "/logout") == old  # the last session ends
        wait(f"{old} retired", lambda: not running(world, old), 30, world)
        retired = events(world, "retire")
        assert any(f"Retired {old}" in t and "0 sessions left" in t for t in retired), retired
        assert sessions(world) is None
        for client in kept:  # their cookie was cleared at logout: the new colour, like everyone
            assert colour(client, url) == new
    finally:
        for client in kept:
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
        assert colour(kept, url, "/logout") == "green"  # the next test counts green afresh


def test_the_same_flow_through_nginx_in_reload_mode(web: Sandbox) -> None:
    """The sandbox's nginx in reload mode: the rule is rendered into its includes and nginx
    reloaded; green (v2) is live and blue holds v1 after the tests above."""
    stop_agent(web)  # the next deploy starts it again, with the new mode
    text = web.config.read_text()
    assert 'mode = "live"' in text
    web.config.write_text(text.replace('mode = "live"', 'mode = "reload"', 1))
    result = web.cli("proxy", "install", "--reload")  # nginx loads the reload-mode includes
    assert result.returncode == 0, result.stdout + result.stderr

    # Reload mode's includes answer a probe with the sessions rule they route by (live mode's
    # keep it in the Lua dict instead): wait until nginx's new workers run them.
    def reload_mode_runs() -> bool:
        probe = httpx.get(web.proxy_url, headers={"X-Bluegreen-Probe": "sessions"}, timeout=10)
        return probe.headers.get("X-Bluegreen-Sessions") == "none"

    wait("nginx running the reload-mode includes", reload_mode_runs, 15, web)
    seed_flow(web, old="green", new="blue", old_version="v2", new_version="v1")


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
