"""Several services in one nginx: each service's include files define only names of its own
(`[proxy] name`), and the default name renders exactly what a single service always had."""

from __future__ import annotations

import itertools
import re

import pytest

from console.core.config.proxy import NginxProxyConfig
from console.core.model import Canary, Color
from console.drivers.proxy.nginx.naming import named
from console.drivers.proxy.nginx.render import NginxLayout, render_http_conf, render_location_conf
from console.drivers.proxy.nginx.routes import preview_snippet
from console.drivers.proxy.nginx.traffic import count_on_log_batched
from console.drivers.proxy.routes import Routes

_DEFINING = re.compile(
    r"^\s*(?:upstream|lua_shared_dict) (\w+)"
    r"|^\s*(?:map \S+|geo|split_clients \S+|set_by_lua_block) \$(\w+)",
    re.MULTILINE,
)


def defined(text: str) -> set[str]:
    """The names `text` defines in nginx's namespaces: upstreams, shared dicts, variables."""
    return {a or b for a, b in _DEFINING.findall(text)}


def every_file(name: str) -> list[str]:
    """Both includes in every shape they take: mode, routes, canary, counting, admin endpoint,
    nothing live — plus the snippet's preview guard and the benchmark's batched counting."""
    texts = []
    shapes = itertools.product(
        ("live", "reload"),
        (Routes(), Routes(preview=True)),
        (None, Canary("green", 10)),
        (True, False),
        ("", "127.0.0.1:8099"),
    )
    for mode, routes, canary, counting, tcp in shapes:
        layout = NginxLayout(mode, 8081, 8082, "/s", tcp, "tok", counting, routes, name)  # type: ignore[arg-type]
        live: Color | None
        for live in ("blue", None):
            texts.append(render_http_conf(layout, live, canary))
        for per_colour in (True, False):
            texts.append(render_location_conf(mode, routes, per_colour, counting, name))  # type: ignore[arg-type]
    texts.append(named(preview_snippet(Routes(preview=True)), name))
    texts.append(named(count_on_log_batched(), name))
    return texts


def code(text: str) -> str:
    """`text` without its comment lines (nginx's #, Lua's --)."""
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(("#", "--")))


def test_the_default_name_changes_nothing() -> None:
    layout = NginxLayout("live", 8081, 8082, "/s")
    assert render_http_conf(layout, "blue") == named(render_http_conf(layout, "blue"), "bluegreen")
    assert every_file("bluegreen") == every_file(NginxProxyConfig().prefix)


@pytest.mark.parametrize("name", ["bluegreen_api", "shop"])
def test_every_name_a_service_defines_is_its_own(name: str) -> None:
    for text in every_file(name):
        names = defined(text)
        assert all(n == name or n.startswith(name + "_") for n in names), names
        # What still says bluegreen is the operator's headers and cookies, the admin paths, the
        # colour header and a log message: nothing nginx or Lua holds one per http { }.
        left = re.findall(
            r"(?<!http_x_)(?<!cookie_)(?<!x-)(?<!/)(?<!\")bluegreen",
            code(text).replace(name, "NAME").lower(),
        )
        assert left == [], text


def test_two_services_share_no_name() -> None:
    api = set().union(*(defined(t) for t in every_file("bluegreen_api")))
    web = set().union(*(defined(t) for t in every_file("bluegreen_web")))
    assert api and web and not api & web
    assert {"bluegreen_api_backend", "bluegreen_api_traffic", "bluegreen_api_color"} <= api


def test_the_location_reads_its_own_variables() -> None:
    location = render_location_conf("reload", Routes(preview=True), True, True, "bluegreen_api")
    assert "proxy_pass http://bluegreen_api_$bluegreen_api_live;" in location
    assert 'if ($bluegreen_api_live = "none")' in location
    assert "add_header X-Bluegreen-Color $bluegreen_api_color always;" in location
    live = render_location_conf("live", Routes(), name="bluegreen_api")
    assert 'ngx.shared.bluegreen_api:get("live") or ngx.var.bluegreen_api_rendered' in live
    assert "local t = ngx.shared.bluegreen_api_traffic" in live


@pytest.mark.parametrize("bad", ["api-v2", "2api", "api v2", "bg.api", "x" * 65])
def test_a_name_nginx_cannot_hold_is_a_problem(bad: str) -> None:
    problems = NginxProxyConfig(name=bad).problems("/s")
    assert any(f"proxy.name '{bad}'" in p and "letters, digits and _" in p for p in problems)


@pytest.mark.parametrize("good", ["", "bluegreen_api", "_x", "API_2"])
def test_a_name_nginx_can_hold_is_fine(good: str) -> None:
    assert not any("proxy.name" in p for p in NginxProxyConfig(name=good).problems("/s"))
