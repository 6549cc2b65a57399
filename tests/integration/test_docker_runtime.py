"""DockerRuntime against the real Docker Engine, with the local `bluegreen-base:bookworm` image.

Containers are named `bgtest-rt-*` and bind host ports 56040-56049; every test removes what it
started, and a module fixture sweeps any leftovers of a crashed earlier run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from console.core.contracts.runtime import (
    ContainerRunning,
    ContainerSpec,
    ImageNotFound,
    RuntimeUnavailable,
)
from console.core.redact import Redactor, sanitize_log_line
from console.drivers.docker.model import container_info
from console.drivers.docker.runtime import DockerRuntime
from console.drivers.docker.streams import StopSignal
from tests.integration.script_containers import BASE_IMAGE, script_spec
from tests.integration.script_containers import sweep as remove_containers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PREFIX = "bgtest-rt-"
RUN_LABEL = "bgtest.rt.run"
RUN_ID = uuid.uuid4().hex[:8]

# A tiny service: answers GET with 200, prints one line per request (so the test controls when
# output arrives), logs a database URL with its password like the reference service does, and
# exits 0 on SIGTERM after saying so.
SERVER = r"""
import http.server, os, signal, sys
hits = 0
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global hits
        hits += 1
        print(f"hit {hits} {self.path}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")
    def log_message(self, *args):
        pass
def bye(*_):
    print("bye", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, bye)
server = http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler)
print("\x1b[32mINFO\x1b[0m connecting to postgres://indexer:hunter22@db/explorer", flush=True)
print("listening", flush=True)
server.serve_forever(poll_interval=0.1)
"""


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def http_get(port: int, path: str = "/health") -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
        return int(response.status)


def answers(port: int) -> bool:
    try:
        return http_get(port, "/ready") == 200
    except OSError:
        return False


def sweep() -> None:
    remove_containers(PREFIX)


@pytest.fixture(scope="module", autouse=True)
def _clean_module(base_image: str) -> Iterator[None]:
    sweep()
    yield
    sweep()


@pytest.fixture
def runtime() -> Iterator[DockerRuntime]:
    yield DockerRuntime()
    sweep()


def server_spec(name: str, port: int, **overrides: object) -> ContainerSpec:
    fields: dict[str, object] = {
        "env": {"PORT": "8080"},
        "labels": {RUN_LABEL: RUN_ID, "bgtest.rt.role": name},
        "stop_timeout": 10,
    }
    fields.update(overrides)
    return script_spec(PREFIX + name, SERVER, port, **fields)


@pytest.fixture
def server(runtime: DockerRuntime) -> ContainerSpec:
    spec = server_spec("server", 56040)
    runtime.start(spec)
    assert wait_for(lambda: answers(56040), 15), "the test server never answered"
    return spec


# ── start / inspect ──────────────────────────────────────────────────────────────────────────────


def test_started_container_reports_its_state(runtime: DockerRuntime, server: ContainerSpec) -> None:
    info = runtime.inspect(server.name)
    assert info is not None
    assert info.name == server.name
    assert info.image == BASE_IMAGE
    assert info.labels[RUN_LABEL] == RUN_ID
    assert (info.state, info.running, info.exit_code) == ("running", True, None)
    assert info.restart_count == 0
    assert info.started_at is not None and abs(info.started_at - time.time()) < 60
    assert info.finished_at is None
    assert info.health is None and info.error is None and not info.oom_killed
    assert info.pid > 0 and not info.host_network  # what a local reader of its usage needs
    assert runtime.inspect(PREFIX + "does-not-exist") is None
    # Read on a kept socket (lean_reads.py), the same as the SDK's document says.
    through_sdk = runtime._call(lambda client: client.api.inspect_container(server.name))
    assert container_info(through_sdk, Redactor().redact) == info


def test_port_is_bound_to_loopback_only(server: ContainerSpec) -> None:
    mapping = subprocess.run(
        ["docker", "port", server.name], capture_output=True, text=True, check=True
    ).stdout.split()
    assert mapping == ["8080/tcp", "->", "127.0.0.1:56040"]
    assert http_get(56040) == 200


def test_restart_policy_and_stop_timeout_reach_the_engine(server: ContainerSpec) -> None:
    client = docker.from_env()
    try:
        attrs = client.api.inspect_container(server.name)
    finally:
        client.close()
    assert attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert attrs["Config"]["StopTimeout"] == 10
    assert attrs["HostConfig"]["Init"] is True


def test_start_refuses_to_replace_a_running_container(
    runtime: DockerRuntime, server: ContainerSpec
) -> None:
    before = runtime.inspect(server.name)
    with pytest.raises(ContainerRunning, match=r"already running\. Stop it first"):
        runtime.start(server)
    after = runtime.inspect(server.name)
    assert before is not None and after is not None
    assert (after.id, after.running) == (before.id, True)


def test_start_replaces_a_stopped_container(runtime: DockerRuntime, server: ContainerSpec) -> None:
    old = runtime.inspect(server.name)
    runtime.stop(server.name, timeout=5)
    new = runtime.start(server)
    assert old is not None and new.id != old.id and new.running


def test_list_by_label(runtime: DockerRuntime, server: ContainerSpec) -> None:
    crashed = server_spec("listed", 56041, command=["true"], restart_policy="no")
    runtime.start(crashed)
    names = [info.name for info in runtime.list_by_label(RUN_LABEL, RUN_ID)]
    assert names == sorted([server.name, crashed.name])
    only = runtime.list_by_label("bgtest.rt.role", "listed")
    assert [info.name for info in only] == [crashed.name]
    assert runtime.list_by_label(RUN_LABEL, "no-such-run") == []


def test_exec_ok(runtime: DockerRuntime, server: ContainerSpec) -> None:
    assert runtime.exec_ok(server.name, ["true"])
    assert not runtime.exec_ok(server.name, ["false"])
    assert not runtime.exec_ok(PREFIX + "missing", ["true"])


# ── stop / remove / restart policy ───────────────────────────────────────────────────────────────


def test_stop_is_graceful_and_remove_tolerates_missing(
    runtime: DockerRuntime, server: ContainerSpec
) -> None:
    started = time.monotonic()
    runtime.stop(server.name)  # the container's own stop_timeout (10 s) applies
    took = time.monotonic() - started
    info = runtime.inspect(server.name)
    assert info is not None
    assert (info.state, info.running, info.exit_code) == ("exited", False, 0)
    assert info.finished_at is not None
    assert took < 5, f"SIGTERM was not handled gracefully (stop took {took:.1f} s)"
    assert runtime.logs(server.name)[-1] == b"bye"
    runtime.stop(server.name)  # already stopped: fine
    runtime.remove(server.name)
    assert runtime.inspect(server.name) is None
    runtime.remove(server.name)  # already gone: fine
    runtime.stop(server.name)


def test_on_failure_restarts_are_counted(runtime: DockerRuntime) -> None:
    crash = ["python3", "-c", "print('boom', flush=True); raise SystemExit(3)"]
    spec = server_spec("crash", 56042, command=crash, restart_policy="on-failure:2")
    runtime.start(spec)

    def gave_up() -> bool:
        info = runtime.inspect(spec.name)
        return info is not None and info.state == "exited" and info.restart_count == 2

    assert wait_for(gave_up, 30), f"last state: {runtime.inspect(spec.name)}"
    info = runtime.inspect(spec.name)
    assert info is not None and info.exit_code == 3 and not info.running
    assert runtime.logs(spec.name).count(b"boom") == 3  # first run + 2 restarts


# ── logs ─────────────────────────────────────────────────────────────────────────────────────────


def test_logs_are_raw_bytes_that_sanitize_cleans(
    runtime: DockerRuntime, server: ContainerSpec
) -> None:
    http_get(56040, "/first")
    assert wait_for(lambda: b"hit 2 /first" in runtime.logs(server.name), 5)
    lines = runtime.logs(server.name, tail=300)
    assert lines[0] == b"\x1b[32mINFO\x1b[0m connecting to postgres://indexer:hunter22@db/explorer"
    assert lines[1] == b"listening"
    assert sanitize_log_line(lines[0], Redactor()) == (
        "INFO connecting to postgres://indexer:***@db/explorer"
    )
    assert runtime.logs(server.name, tail=1) == [b"hit 2 /first"]
    assert runtime.logs(server.name, since=time.time() + 5) == []
    assert runtime.logs(PREFIX + "missing") == []


def _follow_in_thread(
    runtime: DockerRuntime, name: str, stop: threading.Event, tail: int
) -> tuple[threading.Thread, list[bytes]]:
    received: list[bytes] = []

    def consume() -> None:
        received.extend(runtime.follow_logs(name, stop, tail=tail))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread, received


@pytest.mark.parametrize("signal", [threading.Event, StopSignal])
def test_follow_logs_yields_lines_as_they_arrive_and_stops_on_request(
    runtime: DockerRuntime, server: ContainerSpec, signal: type[threading.Event]
) -> None:
    """A plain Event is watched by a thread of its own; a StopSignal (the agent's) closes the
    stream itself when set, with no such thread."""
    stop = signal()
    watchers_before = _watchers()
    thread, received = _follow_in_thread(runtime, server.name, stop, tail=1)
    assert wait_for(lambda: received == [b"hit 1 /ready"], 5), received  # the tail
    http_get(56040, "/live")
    assert wait_for(lambda: b"hit 2 /live" in received, 5), received
    time.sleep(0.3)  # the reader is now blocked on an idle socket
    assert _watchers() == watchers_before + (0 if signal is StopSignal else 1)
    stop.set()
    started = time.monotonic()
    thread.join(timeout=2)
    assert not thread.is_alive(), "follow_logs ignored its stop event"
    assert time.monotonic() - started < 2
    assert runtime.inspect(server.name) is not None  # stopping the follow left it running


def _watchers() -> int:
    return sum(t.name.startswith("follow-logs-") for t in threading.enumerate())


@pytest.mark.parametrize("signal", [threading.Event, StopSignal])
def test_follow_logs_ends_when_the_container_stops(
    runtime: DockerRuntime, server: ContainerSpec, signal: type[threading.Event]
) -> None:
    stop = signal()
    thread, received = _follow_in_thread(runtime, server.name, stop, tail=0)
    time.sleep(0.5)
    runtime.stop(server.name, timeout=5)
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert received[-1:] == [b"bye"]
    if isinstance(stop, StopSignal):
        assert stop._closers == []  # the ended stream is forgotten: set() closes nothing old


def test_follow_logs_of_a_missing_container_ends_at_once(runtime: DockerRuntime) -> None:
    assert list(runtime.follow_logs(PREFIX + "missing", threading.Event())) == []


# ── images ───────────────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def saved_tmp_image(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`bgtest-rt-img:tmp` saved to a tar, then untagged (the base image itself is untouched)."""
    ref = "bgtest-rt-img:tmp"
    tar = tmp_path / "image.tar"
    subprocess.run(["docker", "tag", BASE_IMAGE, ref], check=True)
    try:
        subprocess.run(["docker", "save", "-o", str(tar), ref], check=True)
        subprocess.run(["docker", "rmi", ref], check=True, capture_output=True)
        yield ref, str(tar)
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True)


def test_ensure_image_loads_from_a_saved_tar(
    runtime: DockerRuntime, saved_tmp_image: tuple[str, str]
) -> None:
    ref, tar = saved_tmp_image
    base_id = runtime.ensure_image(BASE_IMAGE)
    assert base_id.startswith("sha256:")
    with pytest.raises(ImageNotFound) as missing:
        runtime.ensure_image(ref)
    assert "docker load -i" in str(missing.value) and "registry" in str(missing.value)
    assert runtime.ensure_image(ref, tar_path=tar) == base_id
    assert runtime.ensure_image(ref) == base_id  # present now: no tar needed


def test_ensure_image_with_an_unreadable_tar_says_so(runtime: DockerRuntime) -> None:
    with pytest.raises(ImageNotFound, match="cannot be read"):
        runtime.ensure_image("bgtest-rt-img:absent", tar_path="/nonexistent/image.tar")


def test_image_labels(runtime: DockerRuntime) -> None:
    assert isinstance(runtime.image_labels(BASE_IMAGE), dict)
    with pytest.raises(ImageNotFound):
        runtime.image_labels("bgtest-rt-img:absent")


# ── an engine that is down, or restarts ──────────────────────────────────────────────────────────


def test_unreachable_engine_is_one_sentence() -> None:
    runtime = DockerRuntime(base_url="unix:///nonexistent/docker.sock", timeout=2)
    assert runtime.ping() is False
    with pytest.raises(RuntimeUnavailable) as error:
        runtime.inspect(PREFIX + "anything")
    assert str(error.value) == (
        "Docker Engine is not reachable at unix:///nonexistent/docker.sock (connection failed). "
        "Start it (`sudo systemctl start docker`) and retry."
    )


class SocketRelay:
    """A unix socket that relays to the real engine, to play a daemon restart without touching
    dockerd: `stop()` resets every connection and removes the socket; `go_stale()` leaves the
    client's pooled connections looking alive but drops each one the moment a request is sent on
    it (what a client sees when the daemon restarted between two calls)."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._stale: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a crashed run
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for pair in self._pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._pairs.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def go_stale(self) -> None:
        for client, upstream in self._pairs:
            self._stale.add(client)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)
        self._pairs.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self._pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if source in self._stale:  # a request on a connection the "old daemon" held
                    source.close()
                    return
                sink.sendall(data)
        if sink not in self._stale:  # a stale client must not see EOF until it sends
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


def test_calls_survive_an_engine_restart(runtime: DockerRuntime, server: ContainerSpec) -> None:
    relay = SocketRelay(Path(f"/tmp/bgtest-rt-{RUN_ID}.sock"))
    relay.start()
    try:
        relayed = DockerRuntime(base_url=f"unix://{relay.path}", timeout=5)
        assert relayed.inspect(server.name) is not None  # client built, connection pooled
        relay.go_stale()  # the pooled connection dies only once the request is on the wire
        assert relayed.logs(server.name, tail=1) == [b"hit 1 /ready"]
        relay.go_stale()
        assert relayed.inspect(server.name) is not None  # the kept socket: asked again once
        relay.go_stale()
        relayed.engine_ping()  # the event feed's ping, on the kept socket
        relay.go_stale()
        assert relayed.ping() is True
        relay.stop()  # "daemon stops": connections reset, socket gone
        assert relayed.ping() is False
        with pytest.raises(RuntimeUnavailable, match="systemctl start docker"):
            relayed.inspect(server.name)
        relay.start()  # "daemon is back"
        info = relayed.inspect(server.name)
        assert info is not None and info.running
    finally:
        relay.stop()
