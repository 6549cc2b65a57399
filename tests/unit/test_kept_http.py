"""Plain HTTP/1.1 over a kept socket (console/drivers/kept_http.py), as the checks use it: what
has no body (HEAD, 204, 304) is not waited for, informational answers are skipped, a body is
sent with its length, and the failures read as the checks' short details."""

from __future__ import annotations

import socket
import threading

from console.drivers.checks import HttpChecker
from console.drivers.kept_http import KeptHttp


class Server:
    """Answers each request with the next of `replies` on one kept connection; keeps what it
    was sent."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.received: list[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            for reply in self.replies:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                while len(body) < length:
                    body += conn.recv(65536)
                self.received.append(head + b"\r\n\r\n" + body)
                conn.sendall(reply)

    def close(self) -> None:
        self.listener.close()


def test_bodiless_answers_and_informational_ones_on_one_connection() -> None:
    server = Server(
        [
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",  # a HEAD: no body follows
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        ]
    )
    http = KeptHttp(("127.0.0.1", server.port), f"127.0.0.1:{server.port}")
    assert http.request("GET", "/a", 2.0).status_code == 204
    assert http.request("GET", "/b", 2.0).content == b""
    assert http.request("HEAD", "/c", 2.0).content == b""
    created = http.request("POST", "/d?x=1", 2.0, [("Accept", "*/*")], b'{"q": 1}')
    assert (created.status_code, created.content) == (201, b"ok")
    last = server.received[-1]
    assert last.startswith(b"POST /d?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Length: 8\r\n" in last and last.endswith(b'{"q": 1}')
    assert b"Content-Length" not in server.received[0]  # no body, no length (as httpcore)
    server.close()


def test_a_check_over_the_kept_socket_reads_status_and_body() -> None:
    server = Server(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nready\r\n0\r\n\r\n",
            b'HTTP/1.1 200 OK\r\nContent-Length: 24\r\n\r\n{"errors": [{"m": "x"}]}',
        ]
    )
    checker = HttpChecker(f"http://127.0.0.1:{server.port}")
    assert checker.health("/api/health/ready", expect="ready") == (True, "HTTP 200")
    ok, detail = checker.smoke("POST", "/graphql", '{"query": "{ x }"}')
    assert not ok and "errors" in detail
    checker.close()
    server.close()


def test_failures_read_as_short_details() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there
    assert HttpChecker(f"http://127.0.0.1:{port}").health("/") == (False, "connection refused")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepted by the kernel, never answered: the bound holds
    hung = HttpChecker(f"http://127.0.0.1:{silent.getsockname()[1]}")
    ok, detail = hung.health("/")
    assert not ok and detail.startswith("no answer within")
    silent.close()
    garbled = Server([b"SSH-2.0-OpenSSH\r\n\r\n"])
    assert HttpChecker(f"http://127.0.0.1:{garbled.port}").health("/") == (
        False,
        "not an HTTP/1.1 answer",
    )
    garbled.close()
