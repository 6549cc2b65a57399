"""Sessions kept on their colour through each proxy (nginx live, nginx reload, HAProxy), real ones
in front of the dummy upstreams: the rule set while blue is live changes nothing, after the switch
a matching session cookie stays on blue and every other client is on green, a rollback puts
everyone on blue at once, and clearing the rule ends it. In reload mode the rule is rendered into
the files, so it outlives a restart, and the switch and the rollback are one reload each. Each
proxy also counts distinct session cookies per colour when no application count is configured.
The whole flow with Docker and the agent is test_sessions_kept.py."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from console.core.config.sessions import SessionsConfig
from console.core.contracts.sessions import KeptSessions, SessionRouter, keeps_sessions
from tests import ports
from tests.integration.proxy_helpers import free_ports, served, session_visitors, upstreams
from tests.integration.proxy_world import Fronted, fronted_proxy

pytestmark = pytest.mark.integration

PORT_RANGE = ports.SESSIONS_PROXIES
SESSIONS = SessionsConfig(cookie="deployment", count_cookie="sid", window_seconds=60)
KEPT = KeptSessions("blue", "v1.4.0", "green")


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as found:
        yield found


ROWS = ["nginx-live", "nginx-reload", "haproxy"]


@contextmanager
def proxy_with(
    row: str, tmp_path: Path, upstream_ports: tuple[int, int], sessions: SessionsConfig
) -> Iterator[Fronted]:
    (listen,) = free_ports(PORT_RANGE, 1, avoid=upstream_ports)
    sock_dir = Path(tempfile.mkdtemp(prefix="bg-sessions-"))
    try:
        with fronted_proxy(
            row, tmp_path, listen, sock_dir, upstream_ports, sessions=sessions
        ) as world:
            yield world
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.fixture(params=ROWS)
def fronted(
    request: pytest.FixtureRequest, tmp_path: Path, upstream_ports: tuple[int, int]
) -> Iterator[Fronted]:
    with proxy_with(request.param, tmp_path, upstream_ports, SESSIONS) as world:
        yield world


def reload_count(fronted: Fronted) -> int:
    """How many times nginx was reloaded: its master logs each reload signal."""
    if fronted.error_log is None:
        return 0
    return fronted.error_log.read_text(encoding="utf-8").count("(SIGHUP) received")


def router_of(fronted: Fronted) -> SessionRouter:
    router = keeps_sessions(fronted.driver)
    assert router is not None, f"{fronted.row} cannot keep sessions"
    return router


colours = session_visitors  # who serves a kept session, another's, and no cookie


def test_kept_sessions_stay_on_the_old_colour_until_rollback_or_the_end(fronted: Fronted) -> None:
    router = router_of(fronted)
    reloads = reload_count(fronted)
    router.set_sessions(KEPT)  # blue is live: nothing changes yet
    assert router.kept_sessions() == KEPT
    assert colours(fronted.url) == {"kept": "blue", "other": "blue", "none": "blue"}

    fronted.driver.switch("green")
    for _ in range(3):  # the same answer on every request
        assert colours(fronted.url) == {"kept": "blue", "other": "green", "none": "green"}
    assert router.kept_sessions() == KEPT
    if fronted.reloads:  # one reload for the switch, none for the rule set before it
        assert reload_count(fronted) == reloads + 1
        fronted.restart()  # the rule is in the files: a restart keeps it
        assert colours(fronted.url) == {"kept": "blue", "other": "green", "none": "green"}
        reloads = reload_count(fronted)

    fronted.driver.switch("blue")  # rollback: everyone on blue at once
    assert colours(fronted.url) == {"kept": "blue", "other": "blue", "none": "blue"}
    assert router.kept_sessions() == KEPT  # inert: it routes nobody while blue is live
    if fronted.reloads:  # and the rule cleared after it (inert now) costs no second reload
        router.set_sessions(None)
        assert reload_count(fronted) == reloads + 1 and router.kept_sessions() is None
        router.set_sessions(KEPT)
    fronted.driver.switch("green")
    router.set_sessions(None)  # the migration ended: nobody is kept
    assert router.kept_sessions() is None
    assert colours(fronted.url) == {"kept": "green", "other": "green", "none": "green"}


def test_a_bad_rule_is_refused_and_changes_nothing(fronted: Fronted) -> None:
    router = router_of(fronted)
    router.set_sessions(KEPT)
    fronted.driver.switch("green")
    if fronted.row == "haproxy":
        pytest.skip("the runtime API takes any map value; the core never sends a bad rule")
    with pytest.raises(Exception, match=r"refused|cannot match"):
        router.set_sessions(KeptSessions("blue", "a|b", "green"))
    assert router.kept_sessions() == KEPT
    assert colours(fronted.url) == {"kept": "blue", "other": "green", "none": "green"}


def test_each_proxy_counts_distinct_session_cookies_per_colour(fronted: Fronted) -> None:
    router = router_of(fronted)
    with httpx.Client(trust_env=False, timeout=5) as client:
        for sid in ("a", "b", "c", "a", "b"):
            served(client, fronted.url, {"Cookie": f"sid={sid}"})
        # No session: not counted; and on the same keep-alive connection nginx reads it only
        # after the previous request's log phase (where sessions are noted) has run.
        served(client, fronted.url)
    assert router.sessions_seen() == {"blue": 3, "green": 0}
    fronted.driver.switch("green")
    with httpx.Client(trust_env=False, timeout=5) as client:
        served(client, fronted.url, {"Cookie": "sid=d"})
        served(client, fronted.url)  # on the same connection: after the previous one's log phase
    assert router.sessions_seen() == {"blue": 3, "green": 1}


@pytest.mark.parametrize("row", ROWS)
def test_a_session_is_counted_until_it_has_been_quiet_for_the_window(
    row: str, tmp_path: Path, upstream_ports: tuple[int, int]
) -> None:
    with proxy_with(row, tmp_path, upstream_ports, replace(SESSIONS, window_seconds=2)) as world:
        router = router_of(world)
        with httpx.Client(trust_env=False, timeout=5) as client:
            for sid in ("a", "b"):
                served(client, world.url, {"Cookie": f"sid={sid}"})
            served(client, world.url)
            assert router.sessions_seen() == {"blue": 2, "green": 0}
            # `a` keeps coming: each request renews it; `b` is quiet and leaves the count.
            deadline = time.monotonic() + 15  # a hang guard only
            while (seen := router.sessions_seen()) != {"blue": 1, "green": 0}:
                assert seen == {"blue": 2, "green": 0}, "a renewed session left the count"
                assert time.monotonic() < deadline, seen
                served(client, world.url, {"Cookie": "sid=a"})
                served(client, world.url)
                time.sleep(0.3)
        deadline = time.monotonic() + 15
        while router.sessions_seen() != {"blue": 0, "green": 0}:  # then `a` is quiet too
            assert time.monotonic() < deadline, router.sessions_seen()
            time.sleep(0.3)
