"""`[proxy]` is a union tagged by `kind`: each kind accepts its own keys only, and what differs
between proxies (admin socket default, latency percentiles, what the agent writes, the driver
row) is declared by the kind, never branched on elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.agent.systemd import unit_text
from console.cli.render import config_summary
from console.core.config.load import ConfigError, parse_config
from console.core.config.proxy import HAPROXY_DEFAULT_SOCKET, HaproxyProxyConfig
from console.core.config.schema import Config, NginxProxyConfig, ProxyConfig
from console.drivers.proxy import DRIVERS, make_proxy
from console.drivers.proxy.haproxy.driver import HaproxyDriver
from console.drivers.proxy.nginx.live import NginxLiveDriver
from console.drivers.proxy.nginx.reload import NginxReloadDriver
from tests.unit.test_config_at_head import BASE as TWO_SLOTS

BASE = 'state_dir = "/var/lib/bg-test"\n' + TWO_SLOTS


def test_no_table_is_nginx_in_live_mode() -> None:
    proxy = parse_config(BASE).proxy
    assert isinstance(proxy, NginxProxyConfig) and proxy.mode == "live"
    assert proxy.test_command == ["nginx", "-t"]


def test_the_kind_chooses_the_class_and_its_defaults() -> None:
    proxy = parse_config(BASE + '[proxy]\nkind = "haproxy"\nbackend = "web"\n').proxy
    assert isinstance(proxy, HaproxyProxyConfig) and proxy.backend == "web"
    assert proxy.test_command == []  # no `nginx -t` for HAProxy
    assert proxy.include_dir == "/etc/nginx/bluegreen"  # unchanged default (state, backend, map)


@pytest.mark.parametrize(
    ("table", "key", "owner", "kind"),
    [
        ('kind = "haproxy"\nmode = "reload"\n', "mode", "nginx", "haproxy"),
        (
            'kind = "haproxy"\nadmin_url = "http://127.0.0.1:8099"\n',
            "admin_url",
            "nginx",
            "haproxy",
        ),
        ('kind = "nginx"\nbackend = "web"\n', "backend", "haproxy", "nginx"),
    ],
)
def test_another_kinds_key_is_refused_with_one_sentence_naming_it(
    table: str, key: str, owner: str, kind: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + "[proxy]\n" + table)
    assert str(refused.value) == (
        f"proxy.{key} belongs to kind = {owner!r}, not {kind!r}: remove it or set "
        f"proxy.kind = {owner!r}."
    )


def test_a_typo_lists_only_the_chosen_kinds_keys() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(BASE + '[proxy]\nkind = "haproxy"\nbakend = "web"\n')
    text = str(refused.value)
    assert "Unknown key 'proxy.bakend'. Did you mean 'backend'?" in text
    assert 'Valid keys for kind = "haproxy"' in text and "admin_url" not in text


def test_an_empty_key_of_another_kind_is_ignored() -> None:
    """A template listing every key, with the other kind's left empty."""
    proxy = parse_config(BASE + '[proxy]\nkind = "haproxy"\nadmin_url = ""\n').proxy
    assert isinstance(proxy, HaproxyProxyConfig)


def test_another_kinds_key_at_its_default_is_ignored() -> None:
    """config.example.toml listed `backend = "bluegreen"` under nginx before [proxy] was split by
    kind: configs copied from it keep loading."""
    nginx = parse_config(BASE + '[proxy]\nkind = "nginx"\nbackend = "bluegreen"\n').proxy
    assert isinstance(nginx, NginxProxyConfig)
    template = 'mode = "live"\nreload_command = ["nginx", "-s", "reload"]\n'
    haproxy = parse_config(BASE + '[proxy]\nkind = "haproxy"\n' + template).proxy
    assert isinstance(haproxy, HaproxyProxyConfig)


def test_the_example_config_parses() -> None:
    example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()
    example = re.sub(r"^secrets_file = .*$", "", example, flags=re.MULTILINE)
    assert parse_config(example, watching=True).proxy.describe() == "nginx (live)"


def test_each_kind_fills_in_its_admin_socket() -> None:
    state = "/var/lib/bg-test"
    assert parse_config(BASE).admin_socket_path == f"{state}/nginx-admin.sock"
    watchers = parse_config('watchers_group = "adm"\n' + BASE)
    assert watchers.admin_socket_path == f"{state}/admin/nginx-admin.sock"
    haproxy = parse_config(BASE + '[proxy]\nkind = "haproxy"\n')
    assert haproxy.admin_socket_path == HAPROXY_DEFAULT_SOCKET == "/run/haproxy/admin.sock"
    given = parse_config(BASE + '[proxy]\nkind = "haproxy"\nadmin_socket = "/run/h.sock"\n')
    assert given.admin_socket_path == "/run/h.sock"


def test_the_nginx_checks_apply_to_nginx_only() -> None:
    with pytest.raises(ConfigError, match=r"proxy\.include_dir is empty"):
        parse_config(BASE + '[proxy]\ninclude_dir = ""\n')
    with pytest.raises(ConfigError, match=r"proxy\.admin_url 'localhost' must look like"):
        parse_config(BASE + '[proxy]\nadmin_url = "localhost"\n')
    # HAProxy keeps its files next to the config when include_dir is empty, as before.
    parse_config(BASE + '[proxy]\nkind = "haproxy"\ninclude_dir = ""\n')
    with pytest.raises(ConfigError, match="longer than 107 bytes"):
        parse_config(BASE + f'[proxy]\nkind = "haproxy"\nadmin_socket = "/{"x" * 120}"\n')


def test_latency_percentiles_are_a_capability_of_the_kind() -> None:
    assert NginxProxyConfig.measures_latency_percentiles
    assert not HaproxyProxyConfig.measures_latency_percentiles
    parse_config(BASE + "[analysis]\nmax_p99_ms = 500\n")  # nginx gives p99: accepted


@pytest.mark.parametrize(
    ("table", "row", "driver", "described"),
    [
        ("", "nginx-live", NginxLiveDriver, "nginx (live)"),
        ('mode = "reload"\n', "nginx-reload", NginxReloadDriver, "nginx (reload)"),
        ('kind = "haproxy"\n', "haproxy", HaproxyDriver, "haproxy (runtime API)"),
    ],
)
def test_each_kind_names_its_driver_row(table: str, row: str, driver: type, described: str) -> None:
    config = parse_config(BASE + "[proxy]\n" + table)
    assert config.proxy.driver_key == row and DRIVERS[row] is driver
    made = make_proxy(config)
    assert isinstance(made, driver) and made.name == described
    assert config.proxy.describe() == described
    assert f"proxy {described}; switch policy" in config_summary(config, Path("bg.toml"))


def test_every_driver_row_is_reachable_from_a_config() -> None:
    kinds: list[ProxyConfig] = [
        NginxProxyConfig(mode="live"),
        NginxProxyConfig(mode="reload"),
        HaproxyProxyConfig(),
    ]
    assert sorted(proxy.driver_key for proxy in kinds) == sorted(DRIVERS)


def test_a_driver_refuses_another_kinds_section() -> None:
    config = parse_config(BASE + '[proxy]\nkind = "haproxy"\n')
    with pytest.raises(Exception, match='set kind = "nginx"'):
        NginxLiveDriver(config)
    with pytest.raises(Exception, match='set kind = "haproxy"'):
        HaproxyDriver(parse_config(BASE))


def test_the_systemd_unit_lets_the_agent_write_what_its_proxy_kind_names(tmp_path: Path) -> None:
    include = tmp_path / "include"
    nginx = Config(state_dir=str(tmp_path / "s"), proxy=NginxProxyConfig(include_dir=str(include)))
    paths = _writable(unit_text(nginx))
    assert f"-{include}" in paths and "-/var/log/nginx" in paths
    haproxy = Config(
        state_dir=str(tmp_path / "s"), proxy=HaproxyProxyConfig(include_dir=str(include))
    )
    assert _writable(unit_text(haproxy)) == [str(tmp_path / "s"), "-/run"]


def _writable(unit: str) -> list[str]:
    line = next(ln for ln in unit.splitlines() if ln.startswith("ReadWritePaths="))
    return line.removeprefix("ReadWritePaths=").split()
