"""Session-kept switch (issue 26.1): the pure parts — config checks, the nginx rule's value and
Lua, the retirement policy and the migration's view. The end-to-end flow through nginx, Docker
and the agent is tests/integration/test_sessions_kept.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.agent.retire import decide_sessions
from console.core.config.coerce import ConfigError
from console.core.config.load import load_config
from console.core.config.sessions import SessionsConfig, sessions_problems
from console.core.config.sources import HttpSource
from console.core.contracts.sessions import KeptSessions
from console.core.measures.sessions import Migration, MigrationView, SessionCounts
from console.drivers.proxy.nginx.naming import named
from console.drivers.proxy.nginx.render import NginxLayout, render_http_conf, render_location_conf
from console.drivers.proxy.nginx.sessions import (
    SessionRendering,
    parse_sessions_value,
    session_lua,
    sessions_location,
    sessions_value,
)

BASE = """
[image]
repository = "web"
[slots.blue]
container = "web-blue"
host_port = 18081
[slots.green]
container = "web-green"
host_port = 18082
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bluegreen.toml"
    path.write_text(BASE + text)
    return str(path)


def test_no_sessions_table_means_no_sessions(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert not config.sessions.enabled


def test_the_table_with_an_http_source_loads(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[sessions]\nretire = "auto"\n[sessions.source]\nkind = "http"\n'
            'url = "http://127.0.0.1:{host_port}/api/deployment/active-sessions"\n'
            'field = "active"\n',
        )
    )
    assert config.sessions.enabled and config.sessions.counted
    assert isinstance(config.sessions.source, HttpSource)
    assert config.sessions.retire == "auto"


def test_auto_without_a_count_and_a_bad_cookie_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, '[sessions]\nretire = "auto"\ncookie = "my-session"\n'))
    assert load_config(write(tmp_path, '[sessions]\nretire = "auto"\ncount_cookie = "sid"\n'))
    text = str(caught.value)
    assert 'sessions.retire = "auto" needs a count of sessions' in text
    assert "sessions.cookie 'my-session'" in text


def test_a_proxy_that_cannot_keep_sessions_is_named(tmp_path: Path) -> None:
    problems = sessions_problems(SessionsConfig(), False, "nginx")
    assert any("and nginx does not: use nginx (live or reload mode)" in p for p in problems)
    # Both nginx modes route by cookie: reload mode renders the rule as maps.
    config = load_config(write(tmp_path, '[proxy]\nmode = "reload"\n[sessions]\n'))
    assert config.proxy.routes_sessions and config.sessions.enabled


def test_the_rule_round_trips_and_refuses_nonsense() -> None:
    kept = KeptSessions("blue", "v1.4.0", "green")
    assert sessions_value(kept) == "blue|v1.4.0|green"
    assert parse_sessions_value("blue|v1.4.0|green\n") == kept
    assert sessions_value(None) == "none"
    for text in ("none", "blue|v1|blue", "red|v1|green", "blue||green", ""):
        assert parse_sessions_value(text) is None


def test_the_location_keeps_sessions_only_when_configured() -> None:
    plain = render_location_conf("live")
    assert "sessions" not in plain
    with_sessions = render_location_conf("live", sessions=SessionRendering("deployment"))
    assert "ngx.var.cookie_deployment == match" in with_sessions
    # Before preview and canary, after the live colour is read: a preview still wins.
    assert with_sessions.index("cookie_deployment") < with_sessions.index("Preview and canary")
    assert "bluegreen_sessions" not in with_sessions  # the application counts: no proxy count
    assert session_lua(None) == "" and sessions_location(None, "") == ""


def test_the_proxy_counts_distinct_session_cookies_when_asked() -> None:
    counted = SessionRendering("deployment", "sid", 120)
    location = render_location_conf("live", sessions=counted)
    assert "local session = ngx.var.cookie_sid" in location
    assert 'bluegreen_sessions:set(live .. ":" .. ngx.crc32_long(session), true,\n' in location
    assert "            120)" in location
    layout = NginxLayout("live", 1, 2, admin_socket="/run/x.sock", sessions=counted)
    http = render_http_conf(layout, "blue")
    assert "lua_shared_dict bluegreen_sessions 1m;" in http
    assert "location = /bluegreen/sessions/seen" in http


def test_a_fleet_service_keeps_its_own_rule_in_its_own_dict() -> None:
    counted = SessionRendering("deployment", "sid")
    text = named(session_lua(counted), "bluegreen_web")
    assert 'ngx.shared.bluegreen_web:get("sessions")' in text
    assert "ngx.var.cookie_deployment" in text  # the application's cookie is not renamed
    location = render_location_conf("live", name="bluegreen_web", sessions=counted)
    assert "ngx.shared.bluegreen_web_sessions:set" in location


def migration(retire: str = "auto", deadline: float = 1000.0) -> Migration:
    return Migration("blue", "green", "v1", 0.0, deadline, retire, 3)


def test_auto_retires_at_zero_and_every_mode_at_the_timeout() -> None:
    assert not decide_sessions(10, migration(), 2).stop
    assert not decide_sessions(10, migration(), None).stop  # not counted: wait
    zero = decide_sessions(10, migration(), 0)
    assert zero.stop and zero.why == "0 sessions left"
    assert not decide_sessions(10, migration("confirm"), 0).stop  # an operator confirms
    assert not decide_sessions(10, migration("timeout"), 0).stop
    late = decide_sessions(1000, migration("confirm"), 2)
    assert late.stop and late.why == "sessions timeout with 2 sessions left"


def test_the_view_draws_how_far_the_old_colour_has_emptied() -> None:
    view = MigrationView.of(migration(), SessionCounts(0.0, blue=1, green=7))
    assert view.on_old == 1 and view.on_new == 7
    assert view.bar(6) == "[####..]"
    text = view.summary(now=400.0)
    assert text.startswith("sessions kept on blue: blue 1 · green 7 [")
    assert "retired at 0 sessions, at the latest in 10m00s" in text
    unknown = MigrationView.of(migration(), None)
    assert unknown.bar(4) == "[????]"


def test_the_store_keeps_the_migration_and_the_counts_apart(tmp_path: Path) -> None:
    from console.core.store.sessions import counts, migration, put_counts, set_migration
    from console.core.store.store import Store

    store = Store.open(tmp_path / "state")
    try:
        assert migration(store) is None and counts(store) is None
        set_migration(store, Migration("blue", "green", "v1", 1.0, 2.0, "auto", 3))
        put_counts(store, SessionCounts(5.0, blue=2, green=None, error=""))
        kept = migration(store)
        assert kept is not None and kept.kept == KeptSessions("blue", "v1", "green")
        seen = counts(store)
        assert seen is not None and seen.on("blue") == 2 and seen.on("green") is None
        set_migration(store, None)
        assert migration(store) is None and counts(store) == seen
    finally:
        store.close()


def test_a_fleet_service_keeps_sessions_under_its_own_names(tmp_path: Path) -> None:
    """In a directory, [sessions] is one service's; its nginx names are its own."""
    from console.core.config.fleet import load_fleet
    from console.drivers.proxy import make_proxy

    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "host.toml").write_text(
        f'state_dir = "{tmp_path / "state"}"\n[proxy]\ninclude_dir = "{tmp_path / "inc"}"\n'
    )
    (etc / "web.toml").write_text(BASE + '[sessions]\ncount_cookie = "sid"\n')
    (etc / "api.toml").write_text(BASE.replace("1808", "1809").replace("web", "api"))
    fleet = load_fleet(str(etc))
    web, api = fleet.services["web"], fleet.services["api"]
    assert web.sessions.enabled and not api.sessions.enabled
    text = make_proxy(web).location_conf("blue", None)  # type: ignore[attr-defined]
    assert 'ngx.shared.bluegreen_web:get("sessions")' in text
    assert "ngx.shared.bluegreen_web_sessions:set" in text
    assert "sessions" not in make_proxy(api).location_conf("blue", None)  # type: ignore[attr-defined]
