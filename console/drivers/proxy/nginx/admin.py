"""The nginx admin endpoint as a client sees it: read and set the live colour, with bounded waits.

It is a unix socket by default; an opted-in TCP endpoint gets the generated token in a header. A
set carries an expiry that the Lua handler enforces, so after a timeout the caller waits out the
expiry and then reads back: what it reads is final. Sets go through an httpx client built for
the call; the reads the agent makes every tick (colour and canary in one request, counters) over
a socket each thread keeps (console/drivers/kept_http.py).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
from pathlib import Path
from typing import TypeVar

import httpx

from console.core.contracts.proxy import TOKEN_HEADER, UNANSWERED, ProxyError, ReadBack
from console.core.fsutil import StateDirError, atomic_write
from console.core.measures.traffic import TrafficSnapshot, counters_from_keys
from console.core.model import Canary
from console.core.timeouts import PROXY_ADMIN_SECONDS, PROXY_READ_BACK_SECONDS
from console.drivers.kept_http import READ_ERRORS, KeptHttp
from console.drivers.lean_http import Answer
from console.drivers.proxy.nginx.render import ADMIN_PATH, NOTHING_LIVE
from console.drivers.proxy.nginx.routes import (
    CANARY_PATH,
    NO_CANARY,
    ROUTING_PATH,
    canary_value,
    parse_canary_value,
)
from console.drivers.proxy.nginx.traffic import TRAFFIC_PATH
from console.drivers.proxy.probe import shared_tls_context

_T = TypeVar("_T")
TOKEN_FILE = "nginx-admin.token"
_ROUTING_RETRY_SECONDS = 60.0  # in the state dir; only for an opted-in TCP admin endpoint


class NginxAdmin:
    def __init__(self, socket_path: str, tcp: str, token_path: Path) -> None:
        self.socket_path = socket_path
        self.tcp = tcp  # "host:port" when a TCP endpoint is opted in, else ""
        self.token_path = token_path
        self.where = f"http://{tcp}" if tcp else f"unix:{socket_path}"
        # The agent reads the colour and the counters every tick, each on its sampler's thread:
        # each thread keeps its own socket instead of building a client and a connection per read.
        host, _, port = tcp.rpartition(":")
        address = (host.strip("[]"), int(port)) if tcp else socket_path
        self._reads = KeptHttp(address, tcp or "bluegreen-admin")
        self._no_routing_until = 0.0  # an include without the routing location: when to retry

    def token(self, create: bool = False) -> str:
        """The TCP endpoint's token ("" when there is none and `create` is False)."""
        try:
            return self.token_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ProxyError(
                f"Cannot read the admin token {self.token_path} ({exc.strerror}): act as an "
                "operator (root or a member of operators_group)."
            ) from None
        if not create:
            return ""
        token = secrets.token_urlsafe(32)
        try:
            self.token_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(self.token_path, token + "\n")  # private: 0600 (0660 with a group)
        except (OSError, StateDirError) as exc:
            raise ProxyError(f"Cannot write the admin token: {exc}") from None
        return token

    def client(self, timeout: float) -> httpx.Client:
        # trust_env=False: an HTTP(S)_PROXY in the environment must never sit in between. The
        # shared TLS context: building one loads the CA bundle (~40 ms), inside a cutover.
        tls = shared_tls_context()
        if self.tcp:
            return httpx.Client(
                base_url=f"http://{self.tcp}",
                headers={TOKEN_HEADER: self.token()},
                timeout=timeout,
                trust_env=False,
                verify=tls,
            )
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=self.socket_path, verify=tls),
            base_url="http://bluegreen-admin",
            timeout=timeout,
            trust_env=False,
            verify=tls,
        )

    def read_back(self, timeout: float = PROXY_READ_BACK_SECONDS) -> ReadBack:
        """The dict's colour and canary; never raises."""
        try:
            colour, canary = self._routing(timeout)
        except (*READ_ERRORS, ProxyError):
            return UNANSWERED
        if colour not in ("blue", "green", NOTHING_LIVE):
            return UNANSWERED
        live = None if colour == NOTHING_LIVE else colour
        running = parse_canary_value(canary) if canary is not None else None
        return ReadBack(True, live, running)  # type: ignore[arg-type]

    def _routing(self, timeout: float) -> tuple[str | None, str | None]:
        """The colour and the canary as the endpoint answers them (None: not answered). One
        request where the include has the routing location; an include from before it answers
        404 there, and is then asked the old way (colour, then canary) for a minute before the
        routing location is tried again (`proxy install` may have brought it)."""
        if time.monotonic() >= self._no_routing_until:
            answer = self._get(ROUTING_PATH, timeout)
            lines = answer.text.splitlines()
            if answer.status_code == 200 and len(lines) == 2:
                return lines[0].strip(), lines[1].strip()
            if answer.status_code == 404:
                self._no_routing_until = time.monotonic() + _ROUTING_RETRY_SECONDS
        colour = self._get(ADMIN_PATH, timeout)
        if colour.status_code != 200:
            return None, None
        # An include from before the canary existed answers 404 here: no canary.
        canary = self._get(CANARY_PATH, timeout)
        return colour.text.strip(), canary.text.strip() if canary.status_code == 200 else None

    def traffic(self, timeout: float = PROXY_READ_BACK_SECONDS) -> TrafficSnapshot:
        """The per-colour counters; ProxyError when the endpoint does not answer them."""
        try:
            response = self._get(TRAFFIC_PATH, timeout)
            data = json.loads(response.content) if response.status_code == 200 else None
        except (*READ_ERRORS, ValueError) as exc:
            raise ProxyError(
                f"The nginx admin endpoint {self.where} did not give its traffic counters "
                f"({type(exc).__name__})."
            ) from None
        counters = data.get("counters") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(counters, dict):
            raise ProxyError(
                f"The nginx admin endpoint {self.where} answered HTTP {response.status_code} "
                f"for {TRAFFIC_PATH}: run `bluegreen proxy install` so nginx has the counters."
            )
        values = {k: v for k, v in counters.items() if isinstance(v, int | float)}
        return TrafficSnapshot(
            at=float(data.get("at") or time.time()), colours=counters_from_keys(values)
        )

    def _get(self, path: str, timeout: float) -> Answer:
        """A GET over this thread's kept socket (console/drivers/kept_http.py).
        The token is read each time: `proxy install` may create or change it."""
        headers = [(TOKEN_HEADER, self.token())] if self.tcp else None
        return self._reads.request("GET", path, timeout, headers)

    def set(self, color: str, canary: Canary | None = None) -> None:
        """Set the dict's colour (and canary: None ends it); on any failure, ProxyError carrying
        a read-back that is final."""
        expires = time.time() + PROXY_ADMIN_SECONDS
        params = {"color": color, "expires": f"{expires:.3f}", "canary": canary_value(canary)}
        self._post(ADMIN_PATH, params, color, f"the switch to {color}")

    def set_canary(self, canary: Canary | None, idle: str) -> None:
        """Set the dict's canary (None: none); the live colour is untouched."""
        expires = time.time() + PROXY_ADMIN_SECONDS
        params = {
            "color": canary.color if canary else idle,
            "percent": str(canary.percent if canary else 0),
            "expires": f"{expires:.3f}",
        }
        what = f"the canary ({canary.describe()})" if canary else "the end of the canary"
        self._post(CANARY_PATH, params, canary_value(canary) if canary else NO_CANARY, what)

    def _post(self, path: str, params: dict[str, str], expect: str, what: str) -> None:
        expires = float(params["expires"])
        try:
            with self.client(PROXY_ADMIN_SECONDS) as client:
                response = client.post(path, params=params)
        except httpx.HTTPError as exc:
            # The request may sit in a stalled nginx: past its expiry nginx refuses it, so only
            # then is a read-back the truth. (A refused connection carried nothing.)
            if not isinstance(exc, httpx.ConnectError):
                time.sleep(max(0.0, expires - time.time()) + 0.05)
            raise ProxyError(
                f"The nginx admin endpoint {self.where} did not answer {what} "
                f"within {PROXY_ADMIN_SECONDS:.0f} s ({type(exc).__name__}).",
                read_back=self.read_back(),
            ) from None
        except ProxyError as exc:  # the token cannot be read: nothing was sent
            raise ProxyError(str(exc), read_back=UNANSWERED) from None
        if response.status_code != 200 or response.text.strip() != expect:
            raise ProxyError(
                f"The nginx admin endpoint refused {what} (HTTP "
                f"{response.status_code}: {response.text.strip()[:80]}).",
                read_back=self.read_back(),
            )

    def wait(self, timeout: float, http_path: Path) -> None:
        # `nginx -s reload` returns before the new workers listen.
        deadline = time.monotonic() + timeout
        while not self.read_back().answered:
            if time.monotonic() >= deadline:
                raise ProxyError(
                    f"nginx was reloaded but its admin endpoint {self.where} does not answer: "
                    f"check that http {{ }} includes {http_path} and that nginx's master can "
                    "create the socket there."
                )
            time.sleep(0.05)

    def remove_stale_socket(self) -> None:
        """A socket file left by a killed nginx makes its next start fail ("Address already in
        use"); one nobody accepts on is stale. A live nginx accepts, so its socket stays."""
        path = Path(self.socket_path)
        if self.tcp or not path.is_socket():
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(str(path))
            except ConnectionRefusedError:
                with contextlib.suppress(OSError):
                    path.unlink()
            except OSError:
                pass
