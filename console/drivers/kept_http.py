"""Plain HTTP/1.1 over a socket each thread keeps: for the requests the agent sends every tick.

The agent asks every service's nginx admin endpoint for its colour and canary every second, and
each colour's health and smoke checks at every full tick. Through httpcore's pool each request
cost ~175 µs of the asking thread's CPU (its request and response models, its connection-state
machine, h11's event parser) — more than the exchange itself, many times over with many
services. This sends the request line, the headers and the body as they are, and reads the
answer as HTTP/1.1 frames it: a status line (informational answers skipped), headers, and a body
framed by Content-Length, chunked, or the connection's end (none for HEAD, 204 and 304).
Anything else is a `ProtocolViolation`, which callers treat as no answer. No TLS, no proxy, no
redirects, no cookies: an `https` URL, or one the environment's proxy applies to, goes through
httpcore or httpx as before (console/drivers/checks.py).

Every wait on the socket is bounded by the caller's timeout. A kept connection the server closed
meanwhile (a reload, its keepalive limits) fails before any byte of an answer: that request is
sent once more on a new connection. A timeout is not retried (a hung server would only double
the wait), and the socket it happened on is never reused.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from console.drivers.lean_http import Answer

_MAX_ANSWER = 16 << 20  # a health or smoke answer, the counters: kilobytes; a bound, not a limit


class ProtocolViolation(Exception):
    """The answer is not HTTP/1.1 as this reads it."""


class NoAnswer(Exception):
    """The connection ended before any byte of an answer (a kept one nginx closed meanwhile)."""


# What one request can fail with short of a bug: no connection, no (whole) answer, a timeout.
READ_ERRORS = (OSError, ProtocolViolation, NoAnswer)


class KeptHttp:
    """Plain-HTTP/1.1 requests to one server over a socket each thread keeps open. `address`
    is a unix socket path, or (host, port) over TCP; `host` is the Host header sent."""

    def __init__(self, address: str | tuple[str, int], host: str) -> None:
        self.address = address
        self.host = host
        self._kept = threading.local()

    def request(
        self,
        method: str,
        target: str,
        timeout: float,
        headers: list[tuple[str, str]] | None = None,
        content: bytes | None = None,
        whole: bool = False,
    ) -> Answer:
        """One request (`target`: the path and query), its answer read whole; raises one of
        READ_ERRORS (a timeout is an OSError: TimeoutError). `timeout` bounds each wait on the
        socket; `whole`: the answer's reading too, from the request's start (an answer that
        trickles in must not hold a caller that can spare only a moment)."""
        deadline = time.monotonic() + timeout if whole else None
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host}"]
        head += [f"{name}: {value}" for name, value in headers or []]
        if content is not None:  # as httpcore frames a request: a length only with a body
            head.append(f"Content-Length: {len(content)}")
        message = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (content or b"")
        for attempt in (1, 2):
            kept: socket.socket | None = getattr(self._kept, "sock", None)
            sock = kept or self._connect(timeout)
            try:
                sock.settimeout(timeout)
                sock.sendall(message)
                answer, reusable = _read_answer(sock, method == "HEAD", deadline)
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
        if isinstance(self.address, tuple):
            sock = socket.create_connection(self.address, timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(self.address)
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
        """Close this thread's kept socket (another thread's closes when it is collected)."""
        sock = getattr(self._kept, "sock", None)
        if sock is not None:
            self._forget(sock)


class _Buffer:
    """What has arrived on the socket and not been consumed yet."""

    def __init__(self, sock: socket.socket, deadline: float | None = None) -> None:
        self.sock = sock
        self.deadline = deadline  # monotonic; None: each wait has the socket's own timeout
        self.data = b""
        self.received = 0

    def fill(self) -> bool:
        """Receive more; False at the connection's end."""
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the answer did not arrive in time")
            self.sock.settimeout(left)
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


def _read_answer(
    sock: socket.socket, bodiless: bool, deadline: float | None = None
) -> tuple[Answer, bool]:
    """The final answer (informational ones skipped) and whether the connection may carry the
    next request. `bodiless`: the answer to a HEAD, which has no body whatever it says;
    `deadline` (monotonic): by when all of it must have arrived."""
    buffer = _Buffer(sock, deadline)
    while True:
        code, headers, version = _read_head(buffer)
        if not 100 <= code < 200:
            break
        if code == 101:
            raise ProtocolViolation("the server switched protocols")
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if bodiless or code in (204, 304):
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
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
    return Answer(code, headers, body), keep and not buffer.data


def _read_head(buffer: _Buffer) -> tuple[int, dict[str, str], str]:
    """One answer's status line and headers: (status, headers by lower-case name, version)."""
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
    return int(code), headers, version


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
