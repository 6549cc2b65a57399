"""Pure rendering and parsing of the proxy drivers' files (no nginx, no HAProxy running)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from console.drivers.proxy.haproxy.backend import parse_servers_state, render_backend, routed_color
from console.drivers.proxy.nginx.render import (
    NginxLayout,
    parse_persisted,
    render_http_conf,
    render_location_conf,
)
from console.drivers.proxy.nginx.traffic import NO_LUA_MARKER

SOCKET = "/var/lib/bluegreen/nginx-admin.sock"
LIVE = NginxLayout(mode="live", blue_port=8081, green_port=8082, admin_socket=SOCKET)
RELOAD = NginxLayout(mode="reload", blue_port=8081, green_port=8082, admin_socket=SOCKET)
TCP = NginxLayout(
    mode="live", blue_port=8081, green_port=8082, admin_tcp="127.0.0.1:8099", token="tok-123"
)


@pytest.mark.parametrize("layout", [LIVE, RELOAD])
@pytest.mark.parametrize("color", ["blue", "green"])
def test_persisted_colour_round_trips(layout: NginxLayout, color: str) -> None:
    assert parse_persisted(render_http_conf(layout, color)) == color  # type: ignore[arg-type]


def test_foreign_file_has_no_persisted_colour() -> None:
    assert parse_persisted("upstream app { server 127.0.0.1:8081; }\n") is None
    assert parse_persisted("# bluegreen live=red mode=live\n") is None


def test_live_mode_falls_back_to_the_rendered_colour() -> None:
    text = render_http_conf(LIVE, "green")
    assert "lua_shared_dict bluegreen 64k;" in text
    assert 'ngx.shared.bluegreen:get("live") or ngx.var.bluegreen_rendered' in text
    assert 'map $host $bluegreen_rendered {\n    default "green";' in text
    assert "ports = { blue = 8081, green = 8082 }" in text
    # keepalive must come after the balancer so it wraps the Lua peer selection
    assert text.index("balancer_by_lua_block") < text.index("keepalive 32;")


def test_live_mode_admin_server_is_a_unix_socket_only_and_validates() -> None:
    text = render_http_conf(LIVE, "blue")
    assert re.findall(r"^\s*listen\s+(\S+);", text, re.MULTILINE) == [f"unix:{SOCKET}"]
    assert 'if color ~= "blue" and color ~= "green"' in text
    assert "X-Bluegreen-Token" not in text and "token" not in text.lower()
    # A switch that sat in a stalled nginx past its expiry is refused, not applied late.
    assert "if ngx.now() > expires then" in text and "ngx.update_time()" in text


def test_tcp_admin_is_opt_in_and_needs_the_token() -> None:
    text = render_http_conf(TCP, "blue")
    assert re.findall(r"^\s*listen\s+(\S+);", text, re.MULTILINE) == ["127.0.0.1:8099"]
    assert 'if ngx.var.http_x_bluegreen_token ~= "tok-123" then' in text
    assert "ngx.status = 403" in text
    assert "allow 127.0.0.1;" in text and "deny all;" in text
    # the token check comes before anything reads or sets the dict
    assert text.index("tok-123") < text.index("local dict = ngx.shared.bluegreen")


@pytest.mark.parametrize("layout", [LIVE, RELOAD])
def test_nothing_live_answers_503_instead_of_an_empty_port(layout: NginxLayout) -> None:
    text = render_http_conf(layout, None)
    assert text.startswith("# bluegreen live=none ")
    assert parse_persisted(text) is None
    variable = "bluegreen_live" if layout.mode == "reload" else "bluegreen_rendered"
    assert f'map $host ${variable} {{\n    default "none";' in text
    location = render_location_conf(layout.mode)
    assert 'if ($bluegreen_live = "none") {\n    return 503 "no colour is live yet\\n";' in location
    # the 503 check comes before proxying
    assert location.index("return 503") < location.index("proxy_pass")


def test_live_location_reads_the_dict_once_per_request() -> None:
    location = render_location_conf("live")
    assert location.index("set_by_lua_block $bluegreen_live") < location.index("if (")
    assert "lua" not in render_location_conf("reload", counting=False)


def test_reload_mode_without_lua_has_only_the_live_server() -> None:
    text = render_http_conf(replace(RELOAD, counting=False), "green")
    assert "server 127.0.0.1:8082;" in text
    assert "127.0.0.1:8081;" not in text
    assert "lua" not in text.replace(NO_LUA_MARKER, "")
    assert NO_LUA_MARKER in text
    assert "listen" not in text
    assert 'map $host $bluegreen_live {\n    default "green";' in text


def test_reload_mode_with_lua_counts_under_its_own_variable() -> None:
    """The rendered `$bluegreen_live` is a map there: the open count gets its own variable,
    which the log phase reads, and only the counters are served on the admin socket."""
    text = render_http_conf(RELOAD, "green")
    assert "lua_shared_dict bluegreen_traffic" in text and "balancer_by_lua" not in text
    assert f"listen unix:{SOCKET};" in text and "location = /bluegreen/traffic" in text
    assert "/bluegreen/live" not in text  # reload mode switches by file, not by the dict
    location = render_location_conf("reload")
    assert location.index("set_by_lua_block $bluegreen_counted") < location.index("if (")
    assert "local live = ngx.var.bluegreen_counted" in location
    assert "log_by_lua_block" in location


@pytest.mark.parametrize("layout", [LIVE, RELOAD])
def test_both_modes_map_the_upstream_address_to_a_colour(layout: NginxLayout) -> None:
    text = render_http_conf(layout, "blue")
    assert '"~127\\.0\\.0\\.1:8081$" blue;' in text
    assert '"~127\\.0\\.0\\.1:8082$" green;' in text


def test_switching_colour_changes_only_the_colour_lines() -> None:
    blue = render_http_conf(LIVE, "blue").splitlines()
    green = render_http_conf(LIVE, "green").splitlines()
    changed = [(a, b) for a, b in zip(blue, green, strict=True) if a != b]
    assert 1 <= len(changed) <= 5
    assert all("blue" in a or "8081" in a for a, _ in changed)


def test_location_conf_keeps_alive_and_marks_the_colour() -> None:
    text = render_location_conf()
    assert "proxy_pass http://bluegreen_backend;" in text
    assert "proxy_http_version 1.1;" in text
    assert "proxy_set_header Connection $bluegreen_connection;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_hide_header X-Bluegreen-Color;" in text
    assert "add_header X-Bluegreen-Color $bluegreen_color always;" in text


def test_haproxy_backend_with_nothing_live_answers_503() -> None:
    text = render_backend("bluegreen", 8081, 8082, None)
    assert "server blue 127.0.0.1:8081 disabled\n" in text
    assert "server green 127.0.0.1:8082 disabled\n" in text
    assert 'string "no colour is live yet" if { nbsrv eq 0 }' in text


def test_haproxy_backend_disables_the_idle_colour() -> None:
    text = render_backend("bluegreen", 8081, 8082, "green")
    assert "server blue 127.0.0.1:8081 disabled\n" in text
    assert "server green 127.0.0.1:8082\n" in text
    assert "http-response set-header X-Bluegreen-Color %[srv_name]" in text


COLUMNS = (
    "be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"
)
# Captured from HAProxy 2.6 `show servers state bluegreen`, admin states made parameters.
SHOW_SERVERS_STATE = (
    f"1\n# {COLUMNS}\n"
    "3 bluegreen 1 blue 127.0.0.1 2 {blue} 1 1 0 1 0 2 0 0 0 0 - 56031 - 0 0 - - 0\n"
    "3 bluegreen 2 green 127.0.0.1 2 {green} 1 1 0 1 0 0 8 0 0 0 - 56032 - 0 0 - - 0\n\n"
)


@pytest.mark.parametrize(
    ("blue", "green", "expected"),
    [
        (0, 5, "blue"),  # green `disabled` in the config file: maint
        (8, 4, "green"),  # blue drained, green was `disabled` but is ready now (0x04 remains)
        (0, 12, "blue"),
        (0, 0, None),  # both take requests: mixed, not one colour
        (1, 8, None),  # neither does
    ],
)
def test_haproxy_routed_colour(blue: int, green: int, expected: str | None) -> None:
    states = parse_servers_state(SHOW_SERVERS_STATE.format(blue=blue, green=green), "bluegreen")
    assert states == {"blue": blue, "green": green}
    assert routed_color(states) == expected


def test_haproxy_state_of_another_backend_is_ignored() -> None:
    text = SHOW_SERVERS_STATE.format(blue=0, green=8)
    assert parse_servers_state(text, "other") == {}


def test_outside_change_event_names_it_with_the_time() -> None:
    from console.core.contracts.proxy import ReadBack, changed_outside_text

    text = changed_outside_text("blue", "green", 0.0)
    assert "changed outside bluegreen" in text and "1970-01-01 00:00:00 UTC" in text
    assert "routes to green" in text and "made blue live" in text
    assert ReadBack(False).describe() == "the proxy did not answer"
    assert ReadBack(True, None).describe() == "nothing is live in the proxy"
    assert ReadBack(True, "blue").describe() == "the proxy routes to blue"


def test_a_swarm_colour_is_its_replicas_peers_and_others_render_as_before() -> None:
    plain = render_http_conf(LIVE, "blue")
    swarm = render_http_conf(replace(LIVE, peers=True), "blue")
    assert "peers:" not in plain and "/bluegreen/peers" not in plain
    assert 'balancer.set_current_peer("127.0.0.1", port)' in plain
    assert 'dict:set("peers:" .. color, peers)' in swarm
    assert "balancer.set_more_tries(#peers - 1)" in swarm
    assert "balancer.set_timeouts(1)  -- connect only" in swarm  # a vanished node: next replica
    assert '"~:8081$" blue;' in swarm  # any node's address, this colour's port
