"""The nginx admin endpoint's per-tick reads over the pool each thread keeps: one connection
serves many reads, a connection the server hung up on is replaced, and a server that is gone
reads as unanswered (never an exception)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.contracts.proxy import UNANSWERED, ProxyError
from console.drivers.proxy.nginx.admin import NginxAdmin

ANSWERS = {
    b"/bluegreen/live": b"green",
    b"/bluegreen/canary": b"blue:10",
    b"/bluegreen/traffic": json.dumps({"at": 5.0, "counters": {"green:req": 7}}).encode(),
}


class AdminStandIn:
    """An HTTP/1.1 server on a unix socket answering the admin paths; with `hang_up_after`, it
    closes each connection after that many answers, as nginx does at its keepalive limits."""

    def __init__(self, path: Path, hang_up_after: int = 0) -> None:
        self.path = path
        self.hang_up_after = hang_up_after
        self.connections = 0
        self.open: list[socket.socket] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        answered = 0
        with conn, conn.makefile("rb") as stream:
            while True:
                request_line = stream.readline()
                if not request_line:
                    return
                while stream.readline() not in (b"\r\n", b"\n", b""):
                    pass  # the headers
                body = ANSWERS.get(request_line.split()[1], b"")
                status = b"200 OK" if body else b"404 Not Found"
                conn.sendall(
                    b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)
                )
                answered += 1
                if self.hang_up_after and answered >= self.hang_up_after:
                    return

    def close(self) -> None:
        """Stop as nginx does: no new connection, and the kept ones closed."""
        self.listener.close()
        for conn in self.open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "admin.sock"


def test_reads_share_one_kept_connection(socket_path: Path) -> None:
    server = AdminStandIn(socket_path)
    admin = NginxAdmin(str(socket_path), "", socket_path.parent / "token")
    for _ in range(5):
        seen = admin.read_back()
        assert (seen.answered, seen.color, seen.canary) == (True, "green", seen.canary)
        assert seen.canary is not None and seen.canary.percent == 10
        assert admin.traffic().colours["green"].requests == 7
    assert server.connections == 1
    server.close()


def test_a_connection_the_server_hung_up_on_is_replaced(socket_path: Path) -> None:
    # Two answers a connection: a read-back's two requests fit on a new one, and every kept
    # connection is hung up on at some point (whether the client sees that before it sends
    # or only after: either way the read is asked again on a new connection).
    server = AdminStandIn(socket_path, hang_up_after=2)
    admin = NginxAdmin(str(socket_path), "", socket_path.parent / "token")
    for _ in range(10):
        assert admin.read_back().color == "green"
        assert admin.traffic().colours["green"].requests == 7
    assert server.connections >= 10  # three answers per round, two per connection
    server.close()


def test_a_server_gone_reads_as_unanswered(socket_path: Path) -> None:
    server = AdminStandIn(socket_path)
    admin = NginxAdmin(str(socket_path), "", socket_path.parent / "token")
    assert admin.read_back().color == "green"
    server.close()
    socket_path.unlink()
    assert admin.read_back() == UNANSWERED
    with pytest.raises(ProxyError, match="did not give its traffic counters"):
        admin.traffic()
