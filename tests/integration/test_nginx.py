"""The nginx driver against a real private nginx (with the Lua module) and dummy upstreams."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.core.config import Config, ProxyConfig
from console.drivers.nginx import HTTP_FILE, LOCATION_FILE, NginxDriver
from console.drivers.proxy import ProxyError, make_proxy
from console.sandbox.nginx_proc import NginxProcess
from tests.integration.proxy_helpers import make_config, upstreams

pytestmark = pytest.mark.integration

LISTEN, ADMIN, BLUE, GREEN, UNUSED = 56020, 56021, 56022, 56023, 56029
PROXY = f"http://127.0.0.1:{LISTEN}"


@pytest.fixture(scope="module", autouse=True)
def _upstreams() -> Iterator[None]:
    with upstreams(BLUE, GREEN):
        yield


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[NginxProcess]:
    nginx = NginxProcess(tmp_path / "nginx", LISTEN, ADMIN, tmp_path / "include")
    nginx.write_main_conf()
    yield nginx
    nginx.stop()


def config_for(proc: NginxProcess, mode: str = "live", **overrides: object) -> Config:
    proxy = ProxyConfig(
        mode=mode,  # type: ignore[arg-type]
        include_dir=str(proc.include_dir),
        proxy_url=PROXY,
        admin_url=f"http://127.0.0.1:{ADMIN}",
        test_command=proc.test_command(),
        reload_command=proc.reload_command(),
        verify_timeout_seconds=3.0,
    )
    proxy = dataclasses.replace(proxy, **overrides)  # type: ignore[arg-type]
    return make_config(proc.prefix_dir.parent, BLUE, GREEN, proxy)


def started(proc: NginxProcess, mode: str = "live") -> NginxDriver:
    driver = NginxDriver(config_for(proc, mode))
    driver.write_files("blue")
    proc.start()
    driver.install("blue")
    return driver


def served_by(method: str = "GET") -> str | None:
    with httpx.Client(trust_env=False) as client:
        if method == "POST":
            response = client.post(f"{PROXY}/graphql", json={"query": "{ ok }"})
        else:
            response = client.get(f"{PROXY}/health")
    assert response.status_code == 200
    color: str | None = response.headers.get("X-Bluegreen-Color")
    return color


def test_make_proxy_picks_nginx(proc: NginxProcess) -> None:
    assert isinstance(make_proxy(config_for(proc)), NginxDriver)


def test_install_routes_everything_to_blue(proc: NginxProcess) -> None:
    driver = started(proc)
    assert served_by("GET") == "blue"
    assert served_by("POST") == "blue"
    assert driver.current() == "blue"
    assert driver.persisted() == "blue"
    assert driver.check() == []


def test_live_switch_is_fast_and_does_not_reload(proc: NginxProcess) -> None:
    driver = started(proc)
    master, workers = proc.master_pid(), proc.worker_pids()
    result = driver.switch("green")
    assert result.color == "green" and result.verified
    assert result.cutover_ms <= 50.0
    assert served_by("POST") == "green"
    assert (proc.master_pid(), proc.worker_pids()) == (master, workers)
    assert "reload" not in proc.error_log.read_text()  # nginx logs "signal 1 (SIGHUP)" on reload
    assert "SIGHUP" not in proc.error_log.read_text()
    assert driver.current() == "green"
    assert driver.persisted() == "green"


def test_restart_keeps_the_persisted_colour(proc: NginxProcess) -> None:
    driver = started(proc)
    driver.switch("green")
    proc.stop()
    proc.start()  # the shared dict is empty now: the colour rendered in the file applies
    assert served_by() == "green"
    assert driver.current() == "green"
    assert driver.check() == []


def test_admin_endpoint_refuses_a_bad_colour(proc: NginxProcess) -> None:
    started(proc)
    admin = f"http://127.0.0.1:{ADMIN}/bluegreen/live"
    with httpx.Client(trust_env=False) as client:
        assert client.post(admin, params={"color": "red"}).status_code == 400
        assert client.post(admin).status_code == 400
        assert client.put(admin, params={"color": "green"}).status_code == 405
        assert client.get(f"http://127.0.0.1:{ADMIN}/").status_code == 404
        assert client.get(admin).text.strip() == "blue"
    assert served_by() == "blue"


def test_unreachable_admin_fails_the_switch_and_changes_nothing(proc: NginxProcess) -> None:
    started(proc)
    before = (proc.include_dir / HTTP_FILE).read_bytes()
    broken = NginxDriver(config_for(proc, admin_url=f"http://127.0.0.1:{UNUSED}"))
    with pytest.raises(ProxyError, match="did not answer"):
        broken.switch("green")
    assert (proc.include_dir / HTTP_FILE).read_bytes() == before
    assert served_by() == "blue"
    assert any("does not answer" in problem for problem in broken.check())


def test_reload_mode_switches(proc: NginxProcess) -> None:
    driver = started(proc, mode="reload")
    assert served_by() == "blue"
    result = driver.switch("green")
    assert result.verified and result.color == "green"
    assert served_by("POST") == "green"
    assert driver.persisted() == "green"
    assert driver.current() == "green"
    assert "lua" not in (proc.include_dir / HTTP_FILE).read_text()


def test_reload_mode_failed_test_changes_nothing(proc: NginxProcess) -> None:
    started(proc, mode="reload")
    before = (proc.include_dir / HTTP_FILE).read_bytes()
    failing = NginxDriver(config_for(proc, mode="reload", test_command=["false"]))
    with pytest.raises(ProxyError, match="previous files are back"):
        failing.switch("green")
    assert (proc.include_dir / HTTP_FILE).read_bytes() == before
    assert served_by() == "blue"


def test_real_nginx_t_failure_restores_the_previous_files(proc: NginxProcess) -> None:
    # An nginx without the Lua module (reload mode works there) rejects the live-mode files.
    main = proc.conf_path.read_text()
    proc.conf_path.write_text(
        "".join(ln for ln in main.splitlines(True) if "load_module" not in ln)
    )
    started(proc, mode="reload")
    before = {name: (proc.include_dir / name).read_bytes() for name in (HTTP_FILE, LOCATION_FILE)}
    live = NginxDriver(config_for(proc, mode="live"))
    with pytest.raises(ProxyError, match="previous files are back"):
        live.install("green")
    after = {name: (proc.include_dir / name).read_bytes() for name in (HTTP_FILE, LOCATION_FILE)}
    assert after == before
    assert served_by() == "blue"


def test_install_without_a_running_nginx_says_what_to_do(proc: NginxProcess) -> None:
    driver = NginxDriver(config_for(proc))
    with pytest.raises(ProxyError, match="Start nginx"):
        driver.install("blue")
    assert driver.persisted() == "blue"  # written and valid; only the running side is missing


def test_check_reports_a_hand_edited_file(proc: NginxProcess) -> None:
    driver = started(proc)
    path = proc.include_dir / LOCATION_FILE
    path.write_text(path.read_text() + "# edited\n")
    assert any("differs" in problem for problem in driver.check())
    driver.install("blue")
    assert driver.check() == []


def test_no_failed_requests_under_keepalive_load_while_switching(proc: NginxProcess) -> None:
    driver = started(proc)
    stop = threading.Event()
    failures: list[str] = []
    served: dict[str, int] = {"blue": 0, "green": 0}
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while not stop.is_set():
                try:
                    response = client.post(f"{PROXY}/graphql", json={"query": "{ ok }"})
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(type(exc).__name__)
                    continue
                with lock:
                    if response.status_code != 200:
                        failures.append(str(response.status_code))
                    else:
                        color = response.headers.get("X-Bluegreen-Color", "")
                        served[color] = served.get(color, 0) + 1

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    cutovers: list[float] = []
    try:
        time.sleep(0.2)
        for index in range(20):
            cutovers.append(driver.switch("green" if index % 2 == 0 else "blue").cutover_ms)
            time.sleep(0.08)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failures == []
    assert served["blue"] > 50 and served["green"] > 50
    # p95 of 20 switches, with the load generator on the same 2-core host
    assert sorted(cutovers)[-2] <= 50.0, f"cutovers (ms): {sorted(cutovers)}"
