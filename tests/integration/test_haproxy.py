"""What only the HAProxy driver does, against a real private HAProxy 2.6 and dummy upstreams: its
runtime API unreachable or answering for another backend, a restart with a stale config, and the
files a first install writes. What every driver does is test_proxy_contract.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.config.proxy import HaproxyProxyConfig
from console.core.config.schema import Config
from console.drivers.proxy import ProxyError, make_proxy
from console.drivers.proxy.haproxy.driver import BACKEND_FILE, STATE_FILE, HaproxyDriver
from console.drivers.proxy.haproxy.routes import MAP_FILE
from console.sandbox.haproxy_proc import HaproxyProcess
from tests import ports
from tests.integration.proxy_helpers import free_ports, make_config, served_by, upstreams

pytestmark = pytest.mark.integration

PORT_RANGE = ports.HAPROXY


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as ports:
        yield ports


class FrontedHaproxy(HaproxyProcess):
    """The private HAProxy plus the dummy upstreams' ports it fronts."""

    upstream_ports: tuple[int, int]


@pytest.fixture
def proc(tmp_path: Path, upstream_ports: tuple[int, int]) -> Iterator[FrontedHaproxy]:
    (listen,) = free_ports(PORT_RANGE, 1, avoid=upstream_ports)
    haproxy = FrontedHaproxy(tmp_path / "haproxy", listen, tmp_path / "admin.sock")
    haproxy.upstream_ports = upstream_ports
    yield haproxy
    haproxy.stop()


def config_for(proc: FrontedHaproxy, socket_path: Path | None = None) -> Config:
    blue, green = proc.upstream_ports
    proxy = HaproxyProxyConfig(
        include_dir=str(proc.prefix_dir / "bluegreen"),
        proxy_url=f"http://127.0.0.1:{proc.listen_port}",
        admin_socket=str(socket_path or proc.admin_socket),
        backend="bluegreen",
        verify_timeout_seconds=3.0,
    )
    return make_config(proc.prefix_dir.parent, blue, green, proxy)


def driver_for(proc: FrontedHaproxy, socket_path: Path | None = None) -> HaproxyDriver:
    driver = make_proxy(config_for(proc, socket_path))
    assert isinstance(driver, HaproxyDriver)
    return driver


def start(proc: HaproxyProcess, driver: HaproxyDriver) -> None:
    """Write haproxy.cfg with the backend the driver renders for operators, and start it."""
    proc.write_conf(driver.backend_section(), driver.backend)
    proc.start()


def started(proc: FrontedHaproxy) -> HaproxyDriver:
    driver = driver_for(proc)
    start(proc, driver)
    driver.install("blue")
    return driver


def test_the_first_write_makes_the_backend_the_state_and_the_canary_map(
    proc: FrontedHaproxy,
) -> None:
    driver = driver_for(proc)
    written = driver.write_files(None)  # what `proxy install` does before the first deploy
    include = proc.prefix_dir / "bluegreen"
    assert set(written) == {str(include / name) for name in (BACKEND_FILE, STATE_FILE, MAP_FILE)}
    assert driver.persisted() is None and driver.persisted_canary() is None
    assert driver.write_files(None) == ()  # idempotent


def test_restart_with_a_stale_config_is_reconciled_by_install(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    proc.stop()
    # A switch to green was persisted, but haproxy.cfg (rendered earlier) still says blue.
    driver.state_path.write_text("green\n")
    proc.start()
    assert driver.current() == "blue"
    assert any("says green" in problem for problem in driver.check())
    driver.install(driver.persisted() or "blue")
    assert driver.current() == "green"
    assert served_by(proc.listen_port) == "green"


def test_unreachable_socket_fails_and_changes_nothing(proc: FrontedHaproxy) -> None:
    started(proc)
    before = (proc.prefix_dir / "bluegreen" / STATE_FILE).read_bytes()
    broken = driver_for(proc, socket_path=proc.prefix_dir / "missing.sock")
    with pytest.raises(ProxyError, match="Cannot reach the HAProxy runtime API"):
        broken.switch("green")
    assert (proc.prefix_dir / "bluegreen" / STATE_FILE).read_bytes() == before
    assert served_by(proc.listen_port) == "blue"
    assert broken.current() is None
    assert any("Cannot reach" in problem for problem in broken.check())


def test_a_wrong_backend_is_reported(proc: FrontedHaproxy) -> None:
    driver = started(proc)
    proc.stop()
    proc.write_conf(driver.backend_section().replace("server green", "server teal"))
    proc.start()
    with pytest.raises(ProxyError, match="servers named blue and green"):
        driver.switch("green")
    assert driver.persisted() == "blue"
    assert any("no server named green" in problem for problem in driver.check())
