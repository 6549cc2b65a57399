"""The agent's per-second read of the nginx admin endpoint: the colour and the canary in ONE
request where the include has the routing location, the old two where it does not (an include
from before it), and answers framed as nginx frames them (chunked, by length, by the
connection's end) read over a socket each thread keeps."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from console.core.contracts.proxy import UNANSWERED
from console.drivers.kept_http import KeptHttp, ProtocolViolation
from console.drivers.proxy.nginx import admin as admin_module
from console.drivers.proxy.nginx.admin import NginxAdmin
from tests.unit.test_nginx_admin_reads import AdminStandIn

ROUTING = {b"/bluegreen/routing": b"blue\ngreen:25\n"}
OLD = {b"/bluegreen/live": b"blue\n", b"/bluegreen/canary": b"green:25\n"}


class Endpoint(AdminStandIn):
    """HTTP/1.1 on a unix socket answering `answers` (404 otherwise) with the framing asked for;
    it records every path asked and every connection made."""

    def __init__(self, path: Path, answers: dict[bytes, bytes], framing: str = "chunked") -> None:
        self.answers = answers
        self.framing = framing
        self.asked: list[bytes] = []
        super().__init__(path)

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as stream:
            while request_line := stream.readline():
                while stream.readline() not in (b"\r\n", b"\n", b""):
                    pass
                path = request_line.split()[1]
                self.asked.append(path)
                body = self.answers.get(path)
                status = b"200 OK" if body is not None else b"404 Not Found"
                body = body if body is not None else b"<html>404</html>"
                conn.sendall(self._frame(status, body))
                if self.framing == "close":
                    return

    def _frame(self, status: bytes, body: bytes) -> bytes:
        head = b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
        if self.framing == "chunked":
            half = len(body) // 2  # two chunks, as nginx sends ngx.say's lines
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:half], body[half:]))
            return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
        if self.framing == "length":
            return head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        return head + b"Connection: close\r\n\r\n" + body


@pytest.mark.parametrize("framing", ["chunked", "length", "close"])
def test_colour_and_canary_in_one_request(tmp_path: Path, framing: str) -> None:
    endpoint = Endpoint(tmp_path / "admin.sock", ROUTING, framing)
    admin = NginxAdmin(str(tmp_path / "admin.sock"), "", tmp_path / "token")
    for _ in range(3):
        seen = admin.read_back()
        assert (seen.answered, seen.color) == (True, "blue")
        assert seen.canary is not None and (seen.canary.color, seen.canary.percent) == ("green", 25)
    assert endpoint.asked == [b"/bluegreen/routing"] * 3
    # Kept alive unless the answer ends the connection.
    assert endpoint.connections == (3 if framing == "close" else 1)
    endpoint.close()


def test_an_include_without_the_routing_location_is_asked_the_old_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = Endpoint(tmp_path / "admin.sock", dict(OLD))
    admin = NginxAdmin(str(tmp_path / "admin.sock"), "", tmp_path / "token")
    now = [1000.0]
    monkeypatch.setattr(admin_module.time, "monotonic", lambda: now[0])
    for _ in range(2):
        seen = admin.read_back()
        assert seen.color == "blue" and seen.canary is not None and seen.canary.percent == 25
    # The 404 is remembered: the second read asks only the old paths.
    assert endpoint.asked == [
        b"/bluegreen/routing", b"/bluegreen/live", b"/bluegreen/canary",
        b"/bluegreen/live", b"/bluegreen/canary",
    ]  # fmt: skip
    # `proxy install` brings the routing location; a minute later it is used.
    endpoint.answers.update(ROUTING)
    now[0] += 61.0
    endpoint.asked.clear()
    assert admin.read_back().color == "blue"
    assert admin.read_back().color == "blue"
    assert endpoint.asked == [b"/bluegreen/routing"] * 2
    endpoint.close()


def test_an_include_from_before_the_canary_reads_no_canary(tmp_path: Path) -> None:
    endpoint = Endpoint(tmp_path / "admin.sock", {b"/bluegreen/live": b"green\n"})
    admin = NginxAdmin(str(tmp_path / "admin.sock"), "", tmp_path / "token")
    seen = admin.read_back()
    assert (seen.answered, seen.color, seen.canary) == (True, "green", None)
    endpoint.close()


def test_an_answer_that_is_not_a_colour_is_unanswered(tmp_path: Path) -> None:
    endpoint = Endpoint(tmp_path / "admin.sock", {b"/bluegreen/routing": b"purple\nnone\n"})
    admin = NginxAdmin(str(tmp_path / "admin.sock"), "", tmp_path / "token")
    assert admin.read_back() == UNANSWERED
    endpoint.close()


def test_garbled_answers_are_protocol_violations_and_the_socket_is_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "garbled.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    replies = [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]

    def serve() -> None:
        for reply in replies:
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.sendall(reply)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    reader = KeptHttp(str(path), "bluegreen-admin")
    for _ in replies:
        with pytest.raises(ProtocolViolation):
            reader.request("GET", "/bluegreen/routing", 2.0)
    listener.close()


def test_a_silent_endpoint_times_out_without_a_second_try(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)  # accepted by the kernel, never answered
    reader = KeptHttp(str(path), "bluegreen-admin")
    with pytest.raises(TimeoutError):
        reader.request("GET", "/bluegreen/routing", 0.2)
    listener.close()
