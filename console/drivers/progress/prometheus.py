"""`kind = "prometheus"`: a text-format scrape (SQD's `sqd_processor_last_block`, Envio's
`envio_progress_block{chainId="1"}`); the value of `metric` among the series whose labels include
`labels`. Parsed with prometheus-client's own parser (escapes, comments, types).

A metric that is declared but has no series yet (a labelled gauge before the indexer has started
that chain) is "no height yet"; a metric missing from the scrape, or series that never carry the
configured labels, are configuration mistakes and say so."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from console.core.config.sources import PrometheusSource
from console.core.contracts.progress import Reading, SourceUnavailable
from console.drivers.progress.base import BaseSource, HttpFetcher, Place
from console.drivers.progress.values import as_height, combine

Series = list[tuple[dict[str, str], float]]


class PrometheusProgress(BaseSource):
    def __init__(self, place: Place, spec: PrometheusSource, url: str) -> None:
        super().__init__(place)
        self.spec = spec
        self.fetcher = HttpFetcher(
            place,
            url,
            headers={"Accept": "text/plain", **spec.headers},
            timeout_seconds=spec.timeout_seconds,
        )

    def read(self) -> Reading:
        try:
            scrape = self._scrape(self.fetcher.fetch().text)
            height = self._value(scrape, self.spec.metric, "metric")
            head = (
                self._value(scrape, self.spec.head_metric, "head_metric")
                if self.spec.head_metric
                else None
            )
        except SourceUnavailable as exc:
            raise self.fetcher.sentence(exc) from None
        return Reading(height, head)

    def _scrape(self, text: str) -> dict[str, Series]:
        """Series by sample name; a family declared without samples maps to []."""
        series: dict[str, Series] = {}
        try:
            for family in text_string_to_metric_families(text):
                series.setdefault(family.name, [])
                for sample in family.samples:
                    series.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        except (ValueError, TypeError, IndexError) as exc:
            raise SourceUnavailable(
                f"{self.place.name} did not answer Prometheus text format "
                f"({self.fetcher.redactor.redact(str(exc))[:60]}); "
                f"check {self.place.key}.url points at the metrics endpoint."
            ) from None
        return series

    def _value(self, scrape: dict[str, Series], metric: str, key: str) -> int | None:
        name, where = self.place.name, f"{self.place.key}.{key}"
        if metric not in scrape:
            known = sorted(n for n in scrape if n.split("_")[0] == metric.split("_")[0])[:4]
            seen = f" (similar: {', '.join(known)})" if known else f" ({len(scrape)} metrics)"
            raise SourceUnavailable(f"{name} has no metric {metric}{seen}; check {where}.")
        all_series = scrape[metric]
        if not all_series:
            return None  # declared, no series yet: the indexer has not started
        wanted = self.spec.labels
        matching = [
            v for labels, v in all_series if all(labels.get(k) == x for k, x in wanted.items())
        ]
        if not matching:
            seen = "; ".join(_labels(labels) for labels, _ in all_series[:3])
            raise SourceUnavailable(
                f"{name} has {metric} but no series with labels {_labels(wanted)} "
                f"(it has {seen}); check {self.place.key}.labels."
            )
        heights = [as_height(v, name, where) for v in matching]
        return combine(
            heights, self.spec.aggregate, f"{name} metric {metric}", f"{self.place.key}.aggregate"
        )

    def close(self) -> None:
        self.fetcher.close()


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
