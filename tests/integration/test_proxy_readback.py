"""A switch whose proxy stalls or loses its answer ends in the truth: the CLI's outcome, the store
and what clients get agree, because the driver reads the proxy back before anything is said.

Real private nginx (Lua), SIGSTOPped exactly when the switch request is sent and SIGCONTed a few
seconds later, as an overloaded host or a blocked worker would do it."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.core.actor import current_actor
from console.core.contracts.proxy import UNANSWERED, ProxyError
from console.core.installation import Installation
from console.core.model import Outcome
from console.core.ops import switching
from console.drivers.proxy import make_proxy
from console.drivers.proxy.nginx import admin as nginx_admin
from console.sandbox.nginx_proc import NginxProcess
from console.wiring import open_installation
from tests import ports
from tests.integration.proxy_helpers import free_ports, make_config, nginx_proxy_config, upstreams

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PORT_RANGE = ports.PROXY_READBACK


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[tuple[int, int]]:
    with upstreams(PORT_RANGE) as ports:
        yield ports


@pytest.fixture
def world(
    tmp_path: Path, upstream_ports: tuple[int, int]
) -> Iterator[tuple[Installation, NginxProcess]]:
    listen, admin = free_ports(PORT_RANGE, 2, avoid=upstream_ports)
    short = Path(tempfile.mkdtemp(prefix="bg-rb-"))
    nginx = NginxProcess(tmp_path / "nginx", listen, admin, tmp_path / "include")
    nginx.write_main_conf()
    proxy = nginx_proxy_config(nginx, short / "admin.sock")
    config = make_config(short, *upstream_ports, proxy)
    inst = open_installation(config)
    driver = make_proxy(config)
    driver.write_files("blue")
    nginx.start()
    driver.install("blue")
    inst.store.set_live("blue", None)
    yield inst, nginx
    inst.close()
    nginx.stop()
    shutil.rmtree(short, ignore_errors=True)


def _signal_nginx(nginx: NginxProcess, sig: signal.Signals) -> None:
    for pid in [nginx.master_pid(), *nginx.worker_pids()]:
        if pid:
            os.kill(pid, sig)


def _served(nginx: NginxProcess) -> set[str | None]:
    seen: set[str | None] = set()
    with httpx.Client(trust_env=False, timeout=5) as client:
        for _ in range(10):
            response = client.post(f"http://127.0.0.1:{nginx.listen_port}/graphql", json={})
            seen.add(response.headers.get("X-Bluegreen-Color"))
    return seen


def _route(inst: Installation, to: str) -> tuple[Outcome, list[str]]:
    outcome = None
    said = []
    for event in switching._route(inst, to, "switch", current_actor()):  # type: ignore[arg-type]
        said.append(getattr(event, "text", ""))
        if isinstance(event, Outcome):
            outcome = event
    assert outcome is not None
    return outcome, said


def test_nginx_stalled_as_the_switch_is_sent_ends_in_the_truth(
    world: tuple[Installation, NginxProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    inst, nginx = world
    real_set = nginx_admin.NginxAdmin.set
    resumed: list[float] = []

    def stall_then_set(self: nginx_admin.NginxAdmin, color: str) -> None:
        _signal_nginx(nginx, signal.SIGSTOP)  # the request now queues in a stopped nginx

        def resume() -> None:
            _signal_nginx(nginx, signal.SIGCONT)
            resumed.append(time.monotonic())

        threading.Timer(3.0, resume).start()
        real_set(self, color)

    monkeypatch.setattr(nginx_admin.NginxAdmin, "set", stall_then_set)
    try:
        outcome, _ = _route(inst, "green")
    finally:
        _signal_nginx(nginx, signal.SIGCONT)
    settled = time.monotonic()
    assert resumed and settled - resumed[0] < 5.0, "the truth came more than 5 s after resume"
    # The request outlived its expiry inside the stopped nginx, so nginx refused it on resume:
    # the switch did not happen, and that is what is said — after a read-back showed it.
    assert not outcome.ok
    assert "traffic unchanged" in outcome.text and "read back" in outcome.text, outcome.text
    assert "did not answer" in outcome.text
    time.sleep(0.5)
    assert inst.store.live() == "blue"
    assert inst.proxy.current() == "blue"
    assert _served(nginx) == {"blue"}


def test_a_switch_applied_but_whose_answer_was_lost_is_finished(
    world: tuple[Installation, NginxProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer is lost after nginx applied the switch (a timeout on the way back): the
    # read-back finds green, so the switch is finished — store, verification, outcome.
    inst, nginx = world
    real_set = nginx_admin.NginxAdmin.set
    calls: list[str] = []

    def applied_then_lost(self: nginx_admin.NginxAdmin, color: str) -> None:
        real_set(self, color)
        calls.append(color)
        if len(calls) == 1:
            raise ProxyError("The nginx admin endpoint did not answer (ReadTimeout).", UNANSWERED)

    monkeypatch.setattr(nginx_admin.NginxAdmin, "set", applied_then_lost)
    outcome, said = _route(inst, "green")
    assert outcome.ok, outcome.text
    assert "applied although the proxy first failed" in outcome.text
    assert any("routes to green after all" in text for text in said)
    assert inst.store.live() == "green"
    assert inst.proxy.current() == "green" and inst.proxy.persisted() == "green"
    assert _served(nginx) == {"green"}


def test_a_proxy_that_stays_silent_is_unknown_then_reconciled(
    world: tuple[Installation, NginxProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    inst, nginx = world
    monkeypatch.setattr(switching, "PROXY_SETTLE_SECONDS", 2.0)  # the bound, shortened
    _signal_nginx(nginx, signal.SIGSTOP)
    try:
        started = time.monotonic()
        outcome, _ = _route(inst, "green")
        took = time.monotonic() - started
    finally:
        _signal_nginx(nginx, signal.SIGCONT)
    assert not outcome.ok and "outcome unknown" in outcome.text, outcome.text
    assert "traffic unchanged" not in outcome.text  # never claimed without a read-back
    assert took < 2.0 + 6.0  # the bound plus the admin and read-back timeouts
    assert inst.lock.holder() is None
    events = [e.text for e in inst.store.events(limit=20)]
    assert any("outcome unknown" in text for text in events)
    assert _served(nginx) == {"blue"} and inst.proxy.current() == "blue"
