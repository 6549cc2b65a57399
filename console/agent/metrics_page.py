"""The exporter's page, kept between scrapes (issue 23: the agent's idle cost).

A scrape used to collect every service's families again (store queries included) and format
every sample: about a millisecond per service, at every scrape, though a service's figures only
change when its agent publishes — a full tick, every 3 s when idle (agent/idle_pace.py). So each
service's families are rendered once per publication (`Published.version`) and kept as text, in
the format the scraper asked for; what moves with the clock (the status and reading ages, the
last sample's age) is computed and formatted at every scrape, never kept. A scrape then joins
the kept text of every service, family by family, as `AgentCollector` merges them.

What is kept is what the agent published, so a scrape shows nothing older than it did before;
the store's counters (switches, rollbacks, cutovers) are read again at the service's next full
tick — an operation wakes an idle service at once, so they follow it within a tick.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.core import Metric
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder, gzip_accepted
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString

from console.agent.metrics import (
    AgentCollector,
    Published,
    ServiceCollector,
    ServiceMetrics,
)

Encoder = Callable[[Any], bytes]
_OPENMETRICS_EOF = b"# EOF\n"
# How both formats write a value (prometheus-client's own function, untyped there).
_value_text: Callable[[float], str] = floatToGoString


class _Registry:
    """The encoders' view of a list of families."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


def _render(encoder: Encoder, family: Metric) -> tuple[bytes, bytes]:
    """One family in the encoder's format: its header lines (HELP, TYPE) and its samples."""
    header: list[bytes] = []
    body: list[bytes] = []
    for line in encoder(_Registry([family])).splitlines(keepends=True):
        if line == _OPENMETRICS_EOF:
            continue
        (header if line.startswith(b"#") and not body else body).append(line)
    return b"".join(header), b"".join(body)


def _escaped(value: str) -> str:
    """A label value as both text formats write it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _with_service(service: str, body: bytes) -> bytes:
    """Each sample line of one service's family, its `service` label first (as `merged` puts
    it): a line is the sample's name, then `{labels}` or a space."""
    label = f'service="{_escaped(service)}"'.encode()
    lines = []
    for line in body.splitlines(keepends=True):
        name_end = min(i for i in (line.find(b"{"), line.find(b" ")) if i >= 0)
        if line[name_end : name_end + 1] == b"{":
            lines.append(line[: name_end + 1] + label + b"," + line[name_end + 1 :])
        else:
            lines.append(line[:name_end] + b"{" + label + b"}" + line[name_end:])
    return b"".join(lines)


def _gauge_lines(service: str, family: Metric) -> bytes:
    """A gauge family's samples, formatted here: these move with the clock and are written at
    every scrape, where prometheus-client's general formatter cost most of a scrape (the same
    lines in both formats: a gauge's samples carry no suffix, timestamp or exemplar)."""
    label = f'service="{_escaped(service)}"'
    lines = []
    for sample in family.samples:
        labels = "".join(f',{k}="{_escaped(v)}"' for k, v in sample.labels.items())
        lines.append(f"{sample.name}{{{label}{labels}}} {_value_text(sample.value)}\n")
    return "".join(lines).encode()


def _samples_key(family: Metric) -> tuple[object, ...]:
    """What a family's text depends on: equal keys, equal text."""
    return (
        family.type,
        family.documentation,
        tuple((s.name, tuple(s.labels.items()), s.value, s.timestamp) for s in family.samples),
    )


@dataclass
class _Kept:
    published: Published  # whose figures (a restarted service has a new one)
    version: int
    # name → (what it was rendered from, header, sample lines with the service label)
    families: dict[str, tuple[tuple[object, ...], bytes, bytes]]


class MetricsPage:
    """Renders the exporter's page; safe for overlapping scrapes (one thread per request)."""

    def __init__(
        self,
        services: Callable[[], Iterable[ServiceMetrics]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.services = services
        self.clock = clock
        self.renders = 0  # a service's families collected again (tests, the bench)
        self.formatted = 0  # families whose samples changed, formatted again
        self._kept: dict[tuple[str, str], _Kept] = {}  # (format, service) → its text
        self._headers: dict[tuple[str, str, str, str], bytes] = {}
        self._lock = threading.Lock()

    def render(self, encoder: Encoder) -> bytes:
        headers: dict[str, bytes] = {}
        samples: dict[str, list[bytes]] = {}
        fmt = encoder.__module__
        moving: list[tuple[str, Metric]] = []
        with self._lock:
            now = self.clock()
            present: set[tuple[str, str]] = set()
            for source in self.services():
                key = (fmt, source.service)
                present.add(key)
                snap = source.published.snapshot()
                collector = ServiceCollector(source, self.clock)
                kept = self._kept.get(key)
                if kept is None or kept.published is not source.published:
                    kept = self._kept[key] = _Kept(source.published, -1, {})
                if kept.version != snap.version:
                    kept.families = self._families(encoder, source.service, collector, snap, kept)
                    kept.version = snap.version
                    self.renders += 1
                for name, (_, header, body) in kept.families.items():
                    headers.setdefault(name, header)
                    samples.setdefault(name, []).append(body)
                moving += [(source.service, f) for f in collector.ages(snap, now)]
            for key in [k for k in self._kept if k[0] == fmt and k not in present]:
                del self._kept[key]  # a service that stopped: its text goes with it
        for service, family in moving:
            if family.name not in headers:
                headers[family.name] = self._header(encoder, family)
            if family.type == "gauge":
                body = _gauge_lines(service, family)
            else:  # anything else moving with the clock: prometheus-client's formatter
                body = _with_service(service, _render(encoder, family)[1])
            samples.setdefault(family.name, []).append(body)
        page = b"".join(headers[name] + b"".join(samples[name]) for name in headers)
        return page + (_OPENMETRICS_EOF if "openmetrics" in fmt else b"")

    def _header(self, encoder: Encoder, family: Metric) -> bytes:
        """A family's HELP and TYPE lines in the encoder's format, rendered once."""
        key = (encoder.__module__, family.name, family.documentation, family.type)
        header = self._headers.get(key)
        if header is None:
            empty = Metric(family.name, family.documentation, family.type, family.unit)
            header = self._headers[key] = _render(encoder, empty)[0]
        return header

    def _families(
        self,
        encoder: Encoder,
        service: str,
        collector: ServiceCollector,
        snap: Published,
        kept: _Kept,
    ) -> dict[str, tuple[tuple[object, ...], bytes, bytes]]:
        """The service's families as text; one whose samples did not change keeps its text (an
        idle service's states, conditions and counters rarely do)."""
        families = {}
        for family in collector.steady(snap):
            key = _samples_key(family)
            before = kept.families.get(family.name)
            if before is None or before[0] != key:
                header, body = _render(encoder, family)
                before = (key, header, _with_service(service, body))
                self.formatted += 1
            families[family.name] = before
        return families


def metrics_app(page: MetricsPage) -> Callable[..., list[bytes]]:
    """The WSGI app: GET (any path) is the page, in the format the Accept header asks for."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "OPTIONS"):
            start_response("405 Method Not Allowed", [("Allow", "OPTIONS,GET")])
            return [f"# HTTP 405: {method}; use OPTIONS or GET\n".encode()]
        if method == "OPTIONS" or environ.get("PATH_INFO") == "/favicon.ico":
            start_response("200 OK", [("Allow", "OPTIONS,GET")])
            return [b""]
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        names = parse_qs(environ.get("QUERY_STRING", "")).get("name[]")
        if names:  # a few series asked for by name: collected as they are, not kept
            registry = CollectorRegistry(auto_describe=False)
            registry.register(AgentCollector(page.services, page.clock))
            output = encoder(registry.restricted_registry(names))
        else:
            output = page.render(encoder)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            output = gzip.compress(output)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged: one a second would flood the agent's log."""


def serve_page(
    listen: tuple[str, int], services: Callable[[], Iterable[ServiceMetrics]]
) -> ThreadingWSGIServer:
    """Serve the page on `listen` from a daemon thread; `.shutdown()` stops it."""
    host, port = listen
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]

    class Server(ThreadingWSGIServer):
        address_family = family

    server = make_server(host, port, metrics_app(MetricsPage(services)), Server, _Quiet)
    # server_close() would otherwise join every request's thread, daemon or not: one scrape
    # stuck on a slow client would hold the agent's stop until systemd kills it.
    server.block_on_close = False
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
