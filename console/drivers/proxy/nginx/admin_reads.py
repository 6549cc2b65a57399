"""The GETs the agent sends nginx's admin endpoint every tick, over one kept socket per thread.

The agent asks every service's admin endpoint for its colour and canary every second and for its
counters at every full tick. Through httpcore's pool each GET cost ~175 µs of the asking
thread's CPU (its request and response models, its connection-state machine, h11's event
parser); the endpoint is bluegreen's own Lua location, answering a few bytes over a unix socket
(or an opted-in TCP port), so a plain HTTP/1.1 exchange on a kept socket does the same in a
fraction of it. What it understands is what nginx answers there: a status line, headers, and a
body framed by Content-Length, chunked, or the connection's end. Anything else is a
`ProtocolViolation`, which the caller treats as no answer.

Every wait on the socket is bounded by the caller's timeout. A kept connection nginx closed
meanwhile (a reload, its keepalive limits) fails before any byte of an answer: that GET is sent
once more on a new connection. A timeout is not retried (a hung nginx would only double the
wait), and the socket it happened on is never reused.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from console.drivers.lean_http import Answer

_MAX_ANSWER = 1 << 20  # the counters of a busy service are a few KB; nothing of ours is near this


class ProtocolViolation(Exception):
    """The endpoint's answer is not HTTP/1.1 as nginx speaks it."""


class NoAnswer(Exception):
    """The connection ended before any byte of an answer (a kept one nginx closed meanwhile)."""


# What one GET can fail with short of a bug: no connection, no (whole) answer, a timeout.
READ_ERRORS = (OSError, ProtocolViolation, NoAnswer)


class KeptReader:
    """GETs over a socket each thread keeps open. `where` is a unix socket path, or `host:port`
    when `tcp` (the admin endpoint opted in to TCP; plain HTTP, its token in a header)."""

    def __init__(self, where: str, tcp: bool) -> None:
        self.where = where
        self.tcp = tcp
        self._kept = threading.local()

    def get(
        self, path: str, timeout: float, headers: list[tuple[str, str]] | None = None
    ) -> Answer:
        """One GET, its answer read whole; raises one of READ_ERRORS (socket.timeout is an
        OSError)."""
        head = [f"GET {path} HTTP/1.1", "Host: bluegreen-admin"]
        head += [f"{name}: {value}" for name, value in headers or []]
        message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        for attempt in (1, 2):
            kept: socket.socket | None = getattr(self._kept, "sock", None)
            sock = kept or self._connect(timeout)
            try:
                sock.settimeout(timeout)
                sock.sendall(message)
                answer, reusable = _read_answer(sock)
            except (NoAnswer, BrokenPipeError, ConnectionResetError):
                self._forget(sock)
                if kept is None or attempt == 2:
                    raise
                continue
            except BaseException:
                self._forget(sock)  # a timeout or a garbled answer: never reuse that socket
                raise
            if reusable:
                self._kept.sock = sock
            else:
                self._forget(sock)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self, timeout: float) -> socket.socket:
        if self.tcp:
            host, _, port = self.where.rpartition(":")
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(self.where)
        except BaseException:
            sock.close()
            raise
        return sock

    def _forget(self, sock: socket.socket) -> None:
        if getattr(self._kept, "sock", None) is sock:
            self._kept.sock = None
        with contextlib.suppress(OSError):
            sock.close()

    def close(self) -> None:
        """Close this thread's kept socket (others close with their threads' ends)."""
        sock = getattr(self._kept, "sock", None)
        if sock is not None:
            self._forget(sock)


class _Buffer:
    """What has arrived on the socket and not been consumed yet."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""
        self.received = 0

    def fill(self) -> bool:
        """Receive more; False at the connection's end."""
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.received += len(chunk)
        if self.received > _MAX_ANSWER:
            raise ProtocolViolation("the answer is larger than any the endpoint gives")
        self.data += chunk
        return True

    def line(self) -> bytes:
        while b"\r\n" not in self.data:
            if not self.fill():
                raise ProtocolViolation("the connection ended inside the answer")
        line, _, self.data = self.data.partition(b"\r\n")
        return line

    def take(self, size: int) -> bytes:
        while len(self.data) < size:
            if not self.fill():
                raise ProtocolViolation("the connection ended inside the body")
        taken, self.data = self.data[:size], self.data[size:]
        return taken


def _read_answer(sock: socket.socket) -> tuple[Answer, bool]:
    """The answer and whether the connection may carry the next request."""
    buffer = _Buffer(sock)
    while b"\r\n\r\n" not in buffer.data:
        if not buffer.fill():
            if buffer.received == 0:
                raise NoAnswer("the connection was closed before an answer")
            raise ProtocolViolation("the connection ended inside the headers")
    head, _, buffer.data = buffer.data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolViolation(f"not an HTTP/1.x status line: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolViolation(f"not a header line: {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _chunked(buffer)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit():
            raise ProtocolViolation(f"a bad Content-Length: {length[:20]!r}")
        body = buffer.take(int(length))
    else:  # framed by the connection's end
        while buffer.fill():
            pass
        body, buffer.data, keep = buffer.data, b"", False
    return Answer(int(code), headers, body), keep and not buffer.data


def _chunked(buffer: _Buffer) -> bytes:
    body = b""
    while True:
        size_text = buffer.line().split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolViolation(f"a bad chunk size: {size_text[:20]!r}") from None
        if size == 0:
            while buffer.line():  # trailers, then the empty line that ends the body
                pass
            return body
        body += buffer.take(size)
        if buffer.take(2) != b"\r\n":
            raise ProtocolViolation("a chunk not followed by CRLF")
