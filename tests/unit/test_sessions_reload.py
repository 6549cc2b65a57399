"""nginx reload mode keeps sessions with maps (issue 26.1): the pure rendering — the rule routes
only while its new colour is rendered live, a kept cookie is matched exactly (case and dots), the
probe is told the rule, and the count is rendered only where the Lua counters are. The rule
through a real nginx: tests/integration/test_sessions_proxies.py."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from console.core.contracts.proxy import ProxyError
from console.core.contracts.sessions import KeptSessions
from console.drivers.proxy.nginx.naming import named
from console.drivers.proxy.nginx.render import NginxLayout, render_http_conf, render_location_conf
from console.drivers.proxy.nginx.sessions import SessionRendering
from console.drivers.proxy.nginx.sessions_reload import (
    RULE_FILE,
    active,
    read_rule,
    write_rule,
)

KEPT = KeptSessions("blue", "v1.4.0", "green")
COUNTED = SessionRendering("deployment", "sid", 60)
RELOAD = NginxLayout(
    mode="reload", blue_port=8081, green_port=8082, admin_socket="/run/a.sock", sessions=COUNTED
)


def test_the_rule_routes_only_while_its_new_colour_is_live() -> None:
    layout = replace(RELOAD, kept=KEPT)
    assert active(KEPT, "green") == KEPT and active(KEPT, "blue") is None
    routing = render_http_conf(layout, "green")
    pick = re.search(r"map \$cookie_deployment \$bluegreen_session_pick \{(.*?)\}", routing, re.S)
    assert pick is not None, routing
    assert "default $bluegreen_rendered;" in pick.group(1)
    assert '"~^v1\\.4\\.0$" blue;' in pick.group(1)  # a regex: exact, dots literal, case kept
    assert "default $bluegreen_session_pick;" in routing
    assert '"~." "blue|v1.4.0|green";' in routing  # what a probe is told
    # Before the switch (blue live) and after a rollback the rule renders nothing but "none":
    # setting or clearing it then changes no file, so needs no reload.
    inert = render_http_conf(layout, "blue")
    assert "bluegreen_session_pick" not in inert and '"~." "none";' in inert
    assert inert == render_http_conf(RELOAD, "blue")


def test_the_location_proxies_per_colour_and_answers_the_rule_to_a_probe() -> None:
    text = render_location_conf("reload", per_colour=True, sessions=COUNTED)
    assert "proxy_pass http://bluegreen_$bluegreen_live;" in text
    assert "add_header X-Bluegreen-Sessions $bluegreen_sessions_seen always;" in text
    assert "ngx.var.cookie_sid" in text  # counted in the log phase, as in live mode
    bare = render_location_conf("reload", counting=False, sessions=COUNTED)
    assert "cookie_sid" not in bare and "lua" not in bare  # no Lua module: no count
    assert "X-Bluegreen-Sessions" not in render_location_conf("reload")


def test_the_counters_server_serves_the_sessions_seen_only_with_a_count_cookie() -> None:
    counted = render_http_conf(RELOAD, "blue")
    assert "lua_shared_dict bluegreen_sessions 1m;" in counted
    assert "location = /bluegreen/sessions/seen" in counted
    plain = replace(RELOAD, sessions=SessionRendering("deployment"))
    assert "sessions/seen" not in render_http_conf(plain, "blue")


def test_a_service_name_renames_the_session_variables() -> None:
    text = named(render_http_conf(replace(RELOAD, kept=KEPT), "green"), "bluegreen_shop")
    assert "$bluegreen_shop_session_pick" in text and "$bluegreen_shop_sessions_seen" in text
    assert "$cookie_deployment" in text  # the application's cookie keeps its name


def test_the_rule_file_round_trips(tmp_path: Path) -> None:
    assert read_rule(tmp_path) is None
    write_rule(tmp_path, KEPT)
    assert (tmp_path / RULE_FILE).read_text() == "blue|v1.4.0|green\n"
    assert read_rule(tmp_path) == KEPT
    write_rule(tmp_path, None)
    assert read_rule(tmp_path) is None and not (tmp_path / RULE_FILE).exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(ProxyError, match="Cannot keep the sessions rule"):
        write_rule(tmp_path / "file", KEPT)
