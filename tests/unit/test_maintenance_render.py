"""Maintenance in the rendered proxy files (pure text): off renders nothing extra, on puts the
check first, escapes what nginx would read, and carries the service's own names."""

from __future__ import annotations

from console.core.holds import MaintenancePage
from console.drivers.proxy.haproxy.backend import render_backend
from console.drivers.proxy.haproxy.maintenance import with_rule
from console.drivers.proxy.nginx.maintenance import http_block, with_location_block
from console.drivers.proxy.nginx.render import render_location_conf

PAGE = MaintenancePage('<p>costs $5 "or" \\ {x}</p>', retry_after=30)


def test_off_is_the_files_byte_for_byte() -> None:
    location = render_location_conf("live")
    assert with_location_block(location, None, "bluegreen") == location
    assert http_block(False) == ""
    backend = render_backend("bluegreen", 1, 2, "blue")
    assert with_rule(backend, None, "/x/page.html") == backend


def test_on_checks_first_and_escapes_quotes_backslashes_and_dollars() -> None:
    text = with_location_block(render_location_conf("reload"), PAGE, "bluegreen_web")
    first = text.split("proxy_pass")[0]
    assert 'if ($http_x_bluegreen_probe = "") {' in first
    assert "add_header Retry-After 30 always;" in first
    assert 'return 503 "<p>costs ${bluegreen_web_dollar}5 \\"or\\" \\\\ {x}</p>";' in first
    assert "$5" not in text


def test_haproxy_rule_is_first_and_spares_the_probe() -> None:
    text = with_rule(render_backend("web", 1, 2, "blue"), PAGE, "/x/page.html")
    lines = text.splitlines()
    assert lines[0] == "backend web"
    rule = lines[2]
    assert rule.startswith("    http-request return status 503") and 'file "/x/page.html"' in rule
    assert 'hdr Retry-After "30"' in rule and rule.endswith(
        "!{ req.hdr(X-Bluegreen-Probe) -m found }"
    )
