"""The exporter's kept page (agent/metrics_page.py): the same series as collecting afresh, in
both formats; a service's families rendered again only when its agent published; the ages
computed at every scrape; a service that stopped leaves the page. On a real store, parsed back
with prometheus-client's own parsers."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from console.agent.metrics import AgentCollector, ServiceMetrics
from console.agent.metrics_page import MetricsPage
from tests.unit.test_metrics_exporter import NOW, _scrape_text, _service


def _registry(services: list[ServiceMetrics]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: services, lambda: NOW))
    return registry


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _series(families: object) -> Series:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families  # type: ignore[attr-defined]
        for sample in family.samples
    }


def test_the_page_holds_what_a_fresh_collection_holds(tmp_path: Path) -> None:
    services = [_service(tmp_path, "api"), _service(tmp_path, "web")]
    page = MetricsPage(lambda: services, lambda: NOW)
    text = page.render(generate_latest).decode()
    fresh = _scrape_text(*services)
    assert _series(text_string_to_metric_families(text)) == _series(
        text_string_to_metric_families(fresh)
    )
    names = [f.name for f in text_string_to_metric_families(text)]
    assert len(names) == len(set(names)) > 15  # one family per name, every service in it
    # OpenMetrics (what Prometheus asks for) parses strictly: one EOF, families not split.
    om = page.render(openmetrics_latest).decode()
    assert om.endswith("# EOF\n") and om.count("# EOF") == 1
    assert _series(openmetrics_families(om)) == _series(
        openmetrics_families(openmetrics_latest(_registry(services)).decode())
    )


def test_a_service_is_rendered_again_only_when_its_agent_published(tmp_path: Path) -> None:
    now = [NOW]
    web = _service(tmp_path, "web")
    page = MetricsPage(lambda: [web], lambda: now[0])
    first = _series(text_string_to_metric_families(page.render(generate_latest).decode()))
    assert page.renders == 1
    now[0] += 5.0  # only the clock moved: the kept text serves, the ages move with it
    second = _series(text_string_to_metric_families(page.render(generate_latest).decode()))
    assert page.renders == 1
    age = ("bluegreen_slot_status_age_seconds", (("color", "blue"), ("service", "web")))
    assert second[age] == first[age] + 5.0
    last = ("bluegreen_agent_last_sample_age_seconds", (("service", "web"),))
    assert second[last] == first[last] + 5.0
    tick = ("bluegreen_agent_tick_duration_seconds", (("service", "web"),))
    assert second[tick] == 0.042
    statuses = web.published.snapshot().statuses
    web.published.tick_done(statuses, "green", 0.5)  # a full tick published: rendered again
    third = _series(text_string_to_metric_families(page.render(generate_latest).decode()))
    assert page.renders == 2
    assert third[tick] == 0.5
    assert third[("bluegreen_live_color", (("color", "green"), ("service", "web")))] == 1.0


def test_a_service_that_stopped_leaves_the_page(tmp_path: Path) -> None:
    services = [_service(tmp_path, "api"), _service(tmp_path, "web")]
    page = MetricsPage(lambda: list(services), lambda: NOW)
    assert 'service="api"' in page.render(generate_latest).decode()
    services.pop(0)
    text = page.render(generate_latest).decode()
    assert 'service="api"' not in text and 'service="web"' in text


def test_only_the_families_whose_samples_changed_are_formatted_again(tmp_path: Path) -> None:
    web = _service(tmp_path, "web")
    page = MetricsPage(lambda: [web], lambda: NOW)
    page.render(generate_latest)
    families = page.formatted
    snap = web.published.snapshot()
    web.published.tick_done(snap.statuses, snap.live, 0.25)  # the same statuses, a new duration
    text = page.render(generate_latest).decode()
    assert page.renders == 2 and page.formatted == families + 1  # the tick duration alone
    assert 'bluegreen_agent_tick_duration_seconds{service="web"} 0.25' in text
    assert _series(text_string_to_metric_families(text)) == _series(
        text_string_to_metric_families(_scrape_text(web))
    )
