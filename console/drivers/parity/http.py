"""`kind = "http"`: a request to each colour's own port (a GraphQL POST with `{height}` in the
body), compared on one `field` (the progress sources' dotted paths) or on the whole JSON answer."""

from __future__ import annotations

from console.core.config.parity import HEIGHT_PLACEHOLDER, HttpParity
from console.core.config.schema import Config
from console.core.config.sources import fill_url
from console.core.contracts.progress import SourceUnavailable
from console.core.measures.parity import NoValue
from console.core.model import COLORS, Color
from console.drivers.progress.base import HttpFetcher, Place
from console.drivers.progress.http import parse_json
from console.drivers.progress.values import NoHeightYet, walk


class HttpParityProbe:
    kind = "http"

    def __init__(self, spec: HttpParity, index: int, config: Config) -> None:
        self.name = spec.name
        self.spec = spec
        self._key = f"parity[{index}]"
        self._urls: dict[Color, str] = {}
        self._fetchers: dict[Color, HttpFetcher] = {}
        for color in COLORS:
            slot = config.slot(color)
            url = fill_url(spec.url, slot.host_port, color, slot.container)
            place = Place(self._key, f"{color} parity endpoint", color)
            self._urls[color] = url
            self._fetchers[color] = HttpFetcher(
                place,
                url,
                method=spec.method,
                body=spec.body.encode() if spec.body else None,
                headers=spec.headers,
                timeout_seconds=spec.timeout_seconds,
            )

    def value(self, color: Color, height: int) -> object:
        fetcher = self._fetchers[color]
        number = str(height)
        fetcher.url = self._urls[color].replace(HEIGHT_PLACEHOLDER, number)
        if self.spec.body:
            fetcher.body = self.spec.body.replace(HEIGHT_PLACEHOLDER, number).encode()
        try:
            document = parse_json(fetcher.fetch().content, fetcher.place)
        except SourceUnavailable as exc:
            raise fetcher.sentence(exc) from None  # no URL or header value in the sentence
        if not self.spec.field:
            return document
        try:
            values = walk(document, self.spec.field, fetcher.place.name, f"{self._key}.field")
        except NoHeightYet:
            raise NoValue(f"null at {self.spec.field}") from None
        return values[0] if len(values) == 1 else values

    def close(self) -> None:
        for fetcher in self._fetchers.values():
            fetcher.close()
