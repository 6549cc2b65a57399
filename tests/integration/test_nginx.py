"""What only the nginx drivers do, against a real private nginx (with the Lua module) and dummy
upstreams: the admin endpoint (live mode), `nginx -t` refusing a file, the files put back, a
hand-edited include. What every driver does is test_proxy_contract.py."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx
import pytest

from console.core.config.schema import Config
from console.core.fsutil import StateDirError
from console.drivers.proxy import ProxyError, ReadBack
from console.drivers.proxy.nginx.driver import HTTP_FILE, LOCATION_FILE, NginxDriver
from console.sandbox.nginx_proc import NginxProcess
from tests import ports
from tests.integration.proxy_helpers import (
    free_ports,
    make_config,
    nginx_driver,
    nginx_proxy_config,
    upstreams,
)
from tests.integration.proxy_helpers import served_by as served_by_port

pytestmark = pytest.mark.integration

PORT_RANGE = ports.NGINX


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as ports:
        yield ports


class FrontedNginx(NginxProcess):
    """The private nginx plus the dummy upstreams' ports it fronts and its admin socket."""

    upstream_ports: tuple[int, int]
    admin_socket: Path


@pytest.fixture
def proc(tmp_path: Path, upstream_ports: tuple[int, int]) -> Iterator[FrontedNginx]:
    listen, admin = free_ports(PORT_RANGE, 2, avoid=upstream_ports)
    nginx = FrontedNginx(tmp_path / "nginx", listen, admin, tmp_path / "include")
    nginx.upstream_ports = upstream_ports
    # pytest's tmp paths can exceed a unix socket's 107 bytes: a short private dir instead.
    nginx.admin_socket = Path(tempfile.mkdtemp(prefix="bg-nginx-")) / "admin.sock"
    nginx.write_main_conf()
    yield nginx
    nginx.stop()
    shutil.rmtree(nginx.admin_socket.parent, ignore_errors=True)


def config_for(
    proc: FrontedNginx, mode: Literal["live", "reload"] = "live", **overrides: object
) -> Config:
    blue, green = proc.upstream_ports
    admin_socket = Path(str(overrides.pop("admin_socket", proc.admin_socket)))
    proxy = nginx_proxy_config(proc, admin_socket, mode, **overrides)
    return make_config(proc.prefix_dir.parent, blue, green, proxy)


def driver_for(
    proc: FrontedNginx, mode: Literal["live", "reload"] = "live", **overrides: object
) -> NginxDriver:
    """The driver of the DRIVERS row for `mode`, as `make_proxy` builds it."""
    return nginx_driver(config_for(proc, mode, **overrides))


def served_by(proc: FrontedNginx, method: str = "GET") -> str | None:
    return served_by_port(proc.listen_port, method)


def started(proc: FrontedNginx, mode: Literal["live", "reload"] = "live") -> NginxDriver:
    driver = driver_for(proc, mode)
    driver.write_files("blue")
    proc.start()
    driver.install("blue")
    return driver


def test_a_live_switch_leaves_no_reload_in_the_error_log(proc: FrontedNginx) -> None:
    # The same processes serving before and after: test_proxy_contract.py, for every driver.
    driver = started(proc)
    assert driver.switch("green").verified
    assert served_by(proc, "POST") == "green"
    assert "reload" not in proc.error_log.read_text()  # nginx logs "signal 1 (SIGHUP)" on reload
    assert "SIGHUP" not in proc.error_log.read_text()


def admin_client(proc: FrontedNginx) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=str(proc.admin_socket))
    return httpx.Client(transport=transport, base_url="http://admin", trust_env=False)


def test_admin_endpoint_refuses_a_bad_colour(proc: FrontedNginx) -> None:
    started(proc)
    admin = "/bluegreen/live"
    with admin_client(proc) as client:
        assert client.post(admin, params={"color": "red"}).status_code == 400
        assert client.post(admin).status_code == 400
        assert client.put(admin, params={"color": "green"}).status_code == 405
        assert client.get("/").status_code == 404
        assert client.get(admin).text.strip() == "blue"
    assert served_by(proc) == "blue"


def test_a_switch_that_arrives_after_its_expiry_is_refused(proc: FrontedNginx) -> None:
    # What a request stuck in a stalled nginx looks like when it is finally read.
    started(proc)
    with admin_client(proc) as client:
        late = client.post(
            "/bluegreen/live", params={"color": "green", "expires": f"{time.time() - 1:.3f}"}
        )
        assert late.status_code == 409
        assert client.get("/bluegreen/live").text.strip() == "blue"
    assert served_by(proc) == "blue"


def test_unreachable_admin_fails_the_switch_and_changes_nothing(proc: FrontedNginx) -> None:
    started(proc)
    before = (proc.include_dir / HTTP_FILE).read_bytes()
    broken = driver_for(proc, admin_socket=str(proc.admin_socket) + ".missing")
    with pytest.raises(ProxyError, match="did not answer") as failure:
        broken.switch("green")
    # No admin endpoint, but the proxy itself still answers: that is the read-back.
    assert failure.value.read_back == ReadBack(answered=True, color="blue")
    assert (proc.include_dir / HTTP_FILE).read_bytes() == before
    assert served_by(proc) == "blue"
    assert any("does not answer" in problem for problem in broken.check())


def test_reload_mode_has_no_admin_endpoint_in_its_files(proc: FrontedNginx) -> None:
    driver = started(proc, mode="reload")
    assert served_by(proc) == "blue"
    assert driver.switch("green").verified
    assert served_by(proc, "POST") == "green"
    # Switched by the file and a reload: the Lua there (the Lua module is loaded) only counts.
    text = (proc.include_dir / HTTP_FILE).read_text()
    assert "balancer_by_lua" not in text and "/bluegreen/live" not in text


def test_reload_mode_failed_test_changes_nothing(proc: FrontedNginx) -> None:
    started(proc, mode="reload")
    before = (proc.include_dir / HTTP_FILE).read_bytes()
    failing = driver_for(proc, "reload", test_command=["false"])
    with pytest.raises(ProxyError, match="previous files are back"):
        failing.switch("green")
    assert (proc.include_dir / HTTP_FILE).read_bytes() == before
    assert served_by(proc) == "blue"


def test_real_nginx_t_failure_restores_the_previous_files(proc: FrontedNginx) -> None:
    # An nginx without the Lua module (reload mode works there) rejects the live-mode files.
    main = proc.conf_path.read_text()
    proc.conf_path.write_text(
        "".join(ln for ln in main.splitlines(True) if "load_module" not in ln)
    )
    started(proc, mode="reload")
    before = {name: (proc.include_dir / name).read_bytes() for name in (HTTP_FILE, LOCATION_FILE)}
    live = driver_for(proc, "live")
    with pytest.raises(ProxyError, match="previous files are back"):
        live.install("green")
    after = {name: (proc.include_dir / name).read_bytes() for name in (HTTP_FILE, LOCATION_FILE)}
    assert after == before
    assert served_by(proc) == "blue"


def test_install_without_a_running_nginx_says_what_to_do(proc: FrontedNginx) -> None:
    driver = driver_for(proc)
    with pytest.raises(ProxyError, match="Start nginx"):
        driver.install("blue")
    assert driver.persisted() == "blue"  # written and valid; only the running side is missing


def test_check_reports_a_hand_edited_file(proc: FrontedNginx) -> None:
    driver = started(proc)
    path = proc.include_dir / LOCATION_FILE
    path.write_text(path.read_text() + "# edited\n")
    assert any("differs" in problem for problem in driver.check())
    driver.install("blue")
    assert driver.check() == []


def test_switch_whose_file_write_fails_still_routes_wholly_to_one_colour(
    proc: FrontedNginx, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The crash window of a live switch: the dict is set, the file is not rewritten yet.
    driver = started(proc)
    before = (proc.include_dir / HTTP_FILE).read_bytes()

    def disk_full(*_: object, **__: object) -> None:
        raise StateDirError("Cannot write bluegreen-http.conf: No space left on device.")

    monkeypatch.setattr("console.drivers.proxy.nginx.driver.atomic_write", disk_full)
    result = driver.switch("green")
    assert result.color == "green" and "still says blue" in result.detail
    assert {served_by(proc) for _ in range(6)} == {"green"}
    assert (proc.include_dir / HTTP_FILE).read_bytes() == before
    assert any("nginx routes to green" in problem for problem in driver.check())
    proc.stop()
    proc.start()  # a restart follows the file: wholly blue again, and install repairs it
    assert {served_by(proc) for _ in range(6)} == {"blue"}
