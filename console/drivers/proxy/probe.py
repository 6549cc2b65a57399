"""Probing through the proxy: which colour answered, and how long until the new one does.

Cutover is measured as the client sees it, so the probe reuses one keep-alive connection (like real
clients do) and polls every few milliseconds.
"""

from __future__ import annotations

import ssl
import threading
import time

import httpx

from console.core.contracts.proxy import COLOR_HEADER, ProxyError
from console.core.model import COLORS, Color
from console.core.timeouts import PROXY_ADMIN_SECONDS
from console.drivers.proxy.nginx.routes import PROBE_HEADER

POLL_INTERVAL_SECONDS = 0.005
# After an nginx reload, answers in a row, each on a new connection, before a change counts as
# applied: old workers accept new connections until they handle their QUIT.
RELOAD_CONFIRMATIONS = 3


def probe_color(client: httpx.Client, url: str) -> Color | None:
    """The colour that served a GET of `url`, or None (no answer, a 5xx, or no colour header)."""
    try:  # as bluegreen's own probe: never in a canary, never answered a maintenance page
        response = client.get(url, headers={PROBE_HEADER: "switch"})
    except httpx.HTTPError:
        return None
    if response.status_code >= 500:
        # nginx adds the header to its own 502 too; a colour that cannot answer has not taken over.
        return None
    return color_of(response)


def color_of(response: httpx.Response) -> Color | None:
    """The colour the proxy's header names, whatever the status (None: no such header)."""
    value = response.headers.get(COLOR_HEADER, "").strip().lower()
    return next((color for color in COLORS if value == color), None)


_tls_lock = threading.Lock()
_tls_context: ssl.SSLContext | None = None


def shared_tls_context() -> ssl.SSLContext:
    # Building a client loads the CA bundle (~40 ms): far too slow inside a measured cutover.
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            _tls_context = ssl.create_default_context()
        return _tls_context


def probe_client(timeout: float = PROXY_ADMIN_SECONDS) -> httpx.Client:
    """A cheap-to-create keep-alive client for loopback and proxy probes."""
    # trust_env=False: an HTTP(S)_PROXY in the environment must never sit between us and the proxy.
    return httpx.Client(timeout=timeout, trust_env=False, verify=shared_tls_context())


def wait_for_color(
    url: str, color: Color, timeout: float, started: float, fresh_confirmations: int = 0
) -> float:
    """Poll `url` until `color` answers; return ms since `started` (a time.perf_counter() value).

    `fresh_confirmations`: after that first answer, so many requests in a row, each on a new
    connection, must answer `color` too (else polling goes on). An nginx reload runs old and
    new workers side by side for a moment, and both accept: one new worker's answer does not
    mean that the next client gets the new colour. The cutover is still the first answer's.
    Raises ProxyError when `timeout` seconds (counted from `started`) pass first.
    """
    deadline = started + timeout
    last_seen: Color | None = None
    client_timeout = max(0.5, min(timeout, 2.0))
    with probe_client(timeout=client_timeout) as client:
        while True:
            last_seen = probe_color(client, url)
            if last_seen == color:
                cutover_ms = (time.perf_counter() - started) * 1000.0
                last_seen = _confirmed(url, color, fresh_confirmations, client_timeout)
                if last_seen == color:
                    return cutover_ms
            if time.perf_counter() >= deadline:
                break
            time.sleep(POLL_INTERVAL_SECONDS)
    seen = f"still answers from {last_seen}" if last_seen else "gives no answer with a colour"
    raise ProxyError(
        f"The proxy at {url} {seen} {timeout:.0f} s after the switch to {color}: check that "
        f"{color} is healthy and that the proxy adds the {COLOR_HEADER} header."
    )


def _confirmed(url: str, color: Color, times: int, timeout: float) -> Color | None:
    """`color` if `times` requests on new connections all answer it, else what answered."""
    for _ in range(times):
        with probe_client(timeout=timeout) as fresh:
            seen = probe_color(fresh, url)
        if seen != color:
            return seen
    return color
