"""A colour's logs on a Swarm: every task's lines, through the manager (`docker service logs`).

Following is a poll of the manager's log endpoint with timestamps, a second apart, keeping the
lines newer than the last one seen: a service's follow stream is not a socket another thread can
close (the SDK demultiplexes it in a generator), and a poll ends by itself within a second of
`stop` or of the service going. Lines are raw bytes (callers sanitize them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors

from console.drivers.docker.model import parse_docker_time

_FOLLOW_POLL_SECONDS = 1.0


class SwarmLogsMixin:
    """Needs the runtime's bounded `_call`."""

    _call: Callable[..., Any]

    def _service_lines(
        self,
        name: str,
        tail: int | str,
        since: float | None,
        timestamps: bool,
        missing_ok: bool = True,
    ) -> list[bytes]:
        """The lines; [] for a missing service, or NotFound when not `missing_ok`."""

        def read(client: docker.DockerClient) -> bytes:
            chunks = client.api.service_logs(
                name,
                stdout=True,
                stderr=True,
                tail=tail,
                since=int(since) if since else 0,  # whole seconds: the API's granularity
                timestamps=timestamps,
            )
            return b"".join(chunks)

        try:
            data = self._call(read)
        except docker.errors.NotFound:
            if not missing_ok:
                raise
            return []
        lines = bytes(data).split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def logs(self, name: str, tail: int = 300, since: float | None = None) -> list[bytes]:
        """The last `tail` lines of every task of the colour, as the manager merges them."""
        return self._service_lines(name, tail, since, timestamps=False)

    def follow_logs(self, name: str, stop: threading.Event, tail: int = 0) -> Iterator[bytes]:
        """Every task's lines as they are written (a poll a second), until `stop` is set or the
        service goes. tail=-1: every line from the start."""
        first = self._service_lines(name, "all" if tail < 0 else tail, None, timestamps=True)
        newest = 0.0
        seen_at_newest: set[bytes] = set()
        batch = first if tail != 0 else []
        if tail == 0 and first:
            newest, seen_at_newest = _newest(first)
        while True:
            for stamp, line in _stamped(batch):
                if stamp < newest or (stamp == newest and line in seen_at_newest):
                    continue  # already yielded (the poll overlaps by up to a second)
                if stamp > newest:
                    newest, seen_at_newest = stamp, set()
                seen_at_newest.add(line)
                yield line
            if stop.wait(_FOLLOW_POLL_SECONDS):
                return
            try:  # a removed service's logs are NotFound: no inspect of it a poll
                batch = self._service_lines(
                    name, "all", newest or None, timestamps=True, missing_ok=False
                )
            except docker.errors.NotFound:
                return


def _stamped(lines: list[bytes]) -> Iterator[tuple[float, bytes]]:
    """(timestamp, line without it) for lines read with timestamps=True."""
    for raw in lines:
        stamp_text, _, line = raw.partition(b" ")
        stamp = parse_docker_time(stamp_text.decode("ascii", "replace"))
        yield (stamp if stamp is not None else 0.0), line


def _newest(lines: list[bytes]) -> tuple[float, set[bytes]]:
    stamped = list(_stamped(lines))
    newest = max(stamp for stamp, _ in stamped)
    return newest, {line for stamp, line in stamped if stamp == newest}
