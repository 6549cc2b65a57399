"""`kind = "http"`: a JSON document (GET, or POST with a body: graph-node's GraphQL), the height at
a dotted path (`result.sync_info.latest_block_height`, a decimal string on CometBFT). With
`head_field`, the same answer also gives the chain head the service reports for itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from console.core.config.sources import HttpSource
from console.core.contracts.progress import Reading, SourceUnavailable
from console.drivers.progress.base import BaseSource, HttpFetcher, Place
from console.drivers.progress.values import NoHeightYet, as_height, combine, spread, walk


class JsonAnswer:
    """Reads fields of one JSON answer into heights, with sentences naming the config keys."""

    def __init__(self, place: Place, aggregate: str) -> None:
        self.place = place
        self.aggregate = aggregate

    def height(self, document: Any, path: str, key: str) -> int | None:
        name, where = self.place.name, f"{self.place.key}.{key}"
        try:
            values = spread(walk(document, path, name, where))
        except NoHeightYet:
            return None
        heights = [as_height(v, name, where) for v in values]
        return combine(heights, self.aggregate, name, f"{self.place.key}.aggregate")


def parse_json(
    response_body: bytes, place: Place, redact: Callable[[str], str] = lambda text: text
) -> Any:
    try:
        return json.loads(response_body)
    except ValueError:
        # Masked before it is cut: a cut-off secret (a header the service echoes back) would no
        # longer match the redactor afterwards.
        head = response_body[:4096].decode("utf-8", "replace")
        start = redact(head)[:30].strip()
        raise SourceUnavailable(
            f"{place.name} did not answer JSON (it began {start!r}); check {place.key}.url."
        ) from None


class HttpProgress(BaseSource):
    def __init__(self, place: Place, spec: HttpSource, url: str) -> None:
        super().__init__(place)
        self.spec = spec
        body = spec.body.encode() if spec.body else None
        self.fetcher = HttpFetcher(
            place,
            url,
            method=spec.method,
            body=body,
            headers=spec.headers,
            timeout_seconds=spec.timeout_seconds,
        )
        self.answer = JsonAnswer(place, spec.aggregate)

    def read(self) -> Reading:
        try:
            document = parse_json(
                self.fetcher.fetch().content, self.place, self.fetcher.redactor.redact
            )
            height = self.answer.height(document, self.spec.field, "field")
            head = (
                self.answer.height(document, self.spec.head_field, "head_field")
                if self.spec.head_field
                else None
            )
        except SourceUnavailable as exc:
            raise self.fetcher.sentence(exc) from None
        return Reading(height, head)

    def close(self) -> None:
        self.fetcher.close()
