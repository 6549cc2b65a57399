"""`bluegreen proxy snippet` over a configuration of several services: one nginx (or HAProxy) for
all, routed by host name or path prefix; a single service's snippet unchanged."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from console.core.config.fleet import load_fleet
from console.core.config.schema import Config
from console.drivers.proxy import make_proxy
from console.drivers.proxy.fleet import fleet_snippet, install_steps

HOST = """
state_dir = "{root}/state"
[proxy]
include_dir = "{root}/include"
proxy_url = "http://127.0.0.1:8080"
{kind}
"""


def _fleet(root: Path, kind: str = "", own_urls: bool = True) -> list[Config]:
    root.mkdir(exist_ok=True)
    (root / "host.toml").write_text(HOST.format(root=root, kind=kind))
    for index, name in enumerate(("api", "web")):
        url = f'[proxy]\nproxy_url = "http://127.0.0.1:8080/{name}"\n' if own_urls else ""
        (root / f"{name}.toml").write_text(
            f'[image]\nrepository = "{name}"\n'
            f'[slots.blue]\ncontainer = "{name}-b"\nhost_port = {18081 + 10 * index}\n'
            f'[slots.green]\ncontainer = "{name}-g"\nhost_port = {18082 + 10 * index}\n{url}'
        )
    fleet = load_fleet(str(root))
    assert fleet.names == ["api", "web"], fleet.skipped
    return list(fleet)


def test_a_single_file_gets_todays_snippet_and_install_steps(tmp_path: Path) -> None:
    (config,) = _fleet(tmp_path / "etc")[:1]
    single = dataclasses.replace(config, fleet_path="")  # as a single file loads it
    assert fleet_snippet([single]) == make_proxy(single).snippet()
    assert install_steps(single) == make_proxy(single).install_steps()


def test_one_service_of_a_directory_is_shown_its_part_of_the_shared_proxy(
    tmp_path: Path,
) -> None:
    """`proxy install -s api` (and `proxy snippet -s api`): api's include in the shared form,
    routed by host name or prefix; never the other service's lines, never a single file's."""
    api, _web = _fleet(tmp_path / "etc")
    include = tmp_path / "etc" / "include"
    steps = install_steps(api)
    assert steps.startswith(fleet_snippet([api]))
    assert f"include {include / 'api' / 'bluegreen-http.conf'};" in steps
    assert "server_name api.example.com;" in steps and "location /api/ {" in steps
    assert "/web/" not in steps and "web.example.com" not in steps
    assert "bluegreen proxy snippet" in steps and "reconcile" in steps


def test_nginx_routes_each_service_by_host_name_or_path_prefix(tmp_path: Path) -> None:
    text = fleet_snippet(_fleet(tmp_path / "etc"))
    include = tmp_path / "etc" / "include"
    assert text.count("load_module modules/ngx_http_lua_module.so;") == 1  # once per nginx
    for name in ("api", "web"):
        assert text.count(f"include {include / name / 'bluegreen-http.conf'};") == 1
        # one server { } by host name, and one location by prefix: the location include twice
        assert text.count(f"include {include / name / 'bluegreen-location.conf'};") == 2
        assert f"server_name {name}.example.com;" in text
        assert re.search(rf"location /{name}/ {{\n\s+include {include / name}/", text)
        assert f"#    {name}: http://127.0.0.1:8080/{name}/health" in text
        assert f"{tmp_path}/etc/state/{name}/nginx-admin.sock" in text
    assert "WARNING" not in text


def test_two_services_verifying_at_one_url_are_warned_about(tmp_path: Path) -> None:
    text = fleet_snippet(_fleet(tmp_path / "etc", own_urls=False))
    assert "# WARNING: api and web verify at the same http://127.0.0.1:8080/health:" in text


def test_haproxy_routes_each_backend_by_host_or_path(tmp_path: Path) -> None:
    text = fleet_snippet(_fleet(tmp_path / "etc", kind='kind = "haproxy"'))
    include = tmp_path / "etc" / "include"
    assert text.count("stats socket /run/haproxy/admin.sock") == 1
    for name in ("api", "web"):  # the fleet names each backend after its service
        assert f"use_backend {name} if {{ hdr(host) -i {name}.example.com }}" in text
        assert f"use_backend {name} if {{ path_beg /{name}/ }}" in text
        assert f"-f {include / name / 'bluegreen-haproxy.cfg'}" in text
    assert "haproxy -f /etc/haproxy/haproxy.cfg \\\n" in text


@pytest.mark.parametrize("kind", ["", 'kind = "haproxy"'])
def test_the_snippet_renders_nothing_twice_per_service(tmp_path: Path, kind: str) -> None:
    text = fleet_snippet(_fleet(tmp_path / "etc", kind=kind))
    assert text.count("# 1. ") == 1 and text.count("# 2. ") == 1 and text.count("# 3. ") == 1


def test_the_cli_prints_every_services_snippet_and_names_a_skipped_one(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    _fleet(etc)
    (etc / "broken.toml").write_text("[slots.blue\n")  # does not parse: skipped, and said
    done = subprocess.run(
        [sys.executable, "-m", "console", "proxy", "snippet", "--config", str(etc)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for name in ("api", "web"):
        assert f"location /{name}/ {{" in done.stdout
    assert "Service broken" in done.stderr and "broken" not in done.stdout
