"""The Prometheus exporter's collector: names, values, labels and redaction, on a real store and
a real scrape through prometheus-client (its own text parser reads the result back)."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from console.agent.metrics import AgentCollector, Published, ServiceMetrics, serve
from console.core.config.checks import listen_problem, parse_listen
from console.core.config.load import ConfigError, parse_config
from console.core.model import Canary, Condition, PartReading, SlotState, SlotStatus
from console.core.redact import Redactor
from console.core.store.db import Database
from console.core.store.store import Store
from console.wiring import open_installation
from tests.unit.traffic_fixture import with_traffic

WEB = """
service = "web"
[image]
repository = "web"
[slots.blue]
container = "web-blue"
host_port = 8081
[slots.green]
container = "web-green"
host_port = 8082
"""
SECRET = "hunter2-planted-secret"
NOW = 1_800_000_000.0


def _store(tmp_path: Path) -> Store:
    store = Store(Database(tmp_path / "state.db"))
    for actor in ("alice@10.0.0.1", "agent", "bob"):
        store.record_event("switch", "Switch blue → green", "success", actor, "green")
    store.record_event("switch", "Switch to green failed", "error", "alice", "green")
    store.record_event("rollback", "Rollback green → blue", "success", "agent", "blue")
    store.add_metric("switch_cutover_ms", 12.0, NOW - 60, {"to": "green"})
    store.add_metric("rollback_cutover_ms", 700.0, NOW - 30, {"to": "blue"})
    store.set_canary(Canary("green", 10))
    return store


def _published() -> Published:
    published = Published()
    blue = SlotStatus(
        "blue",
        SlotState.LIVE,
        image="svc:v1",
        version="v1",
        restart_count=0,
        container_state="running",
        height=1000,
        head=1001,
        lag=1,
        speed=1.0,
        head_speed=1.0,
        at_head=True,  # following the head: no ETA, no closing speed
        updated_at=NOW - 2,
    )
    green = SlotStatus(
        "green",
        SlotState.SYNCING,
        image=f"registry/svc:v2-{SECRET}",
        version=f"v2-{SECRET}",
        container_state="running",
        restart_count=3,
        height=400,
        head=1001,
        lag=601,
        speed=50.0,
        head_speed=1.0,
        eta_seconds=601 / 49.0,
        conditions=(
            Condition("lag ≤ 2 for 5 s", False, "lag 601"),
            Condition(f"GET http://u:{SECRET}@h/ready → 200", True),
        ),
        readings=(PartReading("docker", "Docker", NOW - 1.5),),
        updated_at=NOW - 1,
    )
    published.tick_done({"blue": blue, "green": green}, "blue", 0.042)
    with_traffic(published)  # the traffic block's own tests: test_metrics_traffic.py
    published.last_tick_ok_at = NOW - 1
    return published


def _service(tmp_path: Path, name: str = "web") -> ServiceMetrics:
    (tmp_path / name).mkdir(exist_ok=True)
    return ServiceMetrics(name, _published(), _store(tmp_path / name), Redactor([SECRET]).redact)


def _scrape_text(*services: ServiceMetrics) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(lambda: services, lambda: NOW))
    return generate_latest(registry).decode()


def _scrape(tmp_path: Path) -> tuple[str, dict[str, list[tuple[dict[str, str], float]]]]:
    text = _scrape_text(_service(tmp_path))
    series: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, []).append((sample.labels, sample.value))
    return text, series


def _value(
    series: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    found = [v for got, v in series[name] if all(got.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, (name, labels, series.get(name))
    return found[0]


def test_per_colour_figures(tmp_path: Path) -> None:
    _, series = _scrape(tmp_path)
    assert _value(series, "bluegreen_slot_state", color="green", state="syncing") == 1.0
    assert _value(series, "bluegreen_slot_state", color="green", state="ready") == 0.0
    assert _value(series, "bluegreen_slot_state", color="blue", state="live") == 1.0
    assert _value(series, "bluegreen_slot_height", color="green") == 400
    assert _value(series, "bluegreen_slot_head", color="green") == 1001
    assert _value(series, "bluegreen_slot_lag_blocks", color="green") == 601
    assert _value(series, "bluegreen_slot_speed_blocks_per_second", color="green") == 50.0
    assert _value(series, "bluegreen_slot_closing_speed_blocks_per_second", color="green") == 49.0
    assert _value(series, "bluegreen_slot_eta_seconds", color="green") == pytest.approx(601 / 49)
    eta_labels = [lab for lab, _ in series["bluegreen_slot_eta_seconds"]]
    assert eta_labels == [{"service": "web", "color": "green"}]
    closing = series["bluegreen_slot_closing_speed_blocks_per_second"]
    assert [lab for lab, _ in closing] == [{"service": "web", "color": "green"}]
    assert _value(series, "bluegreen_slot_at_head", color="blue") == 1.0
    assert _value(series, "bluegreen_slot_at_head", color="green") == 0.0
    assert _value(series, "bluegreen_slot_container_restarts", color="green") == 3
    assert _value(series, "bluegreen_slot_ready", color="green") == 0.0
    assert (
        _value(series, "bluegreen_slot_condition_met", color="green", condition="lag ≤ 2 for 5 s")
        == 0.0
    )
    assert (
        _value(series, "bluegreen_slot_part_reading_age_seconds", color="green", part="docker")
        == 1.5
    )
    assert _value(series, "bluegreen_slot_status_age_seconds", color="blue") == 2.0


def test_installation_figures(tmp_path: Path) -> None:
    _, series = _scrape(tmp_path)
    assert _value(series, "bluegreen_live_color", color="blue") == 1.0
    assert _value(series, "bluegreen_live_color", color="green") == 0.0
    assert _value(series, "bluegreen_switches_total", actor_kind="operator") == 2
    assert _value(series, "bluegreen_switches_total", actor_kind="agent") == 1
    assert _value(series, "bluegreen_rollbacks_total", actor_kind="agent") == 1
    assert _value(series, "bluegreen_rollbacks_total", actor_kind="operator") == 0
    assert _value(series, "bluegreen_cutover_seconds_count") == 2
    assert _value(series, "bluegreen_cutover_seconds_sum") == pytest.approx(0.712)
    assert _value(series, "bluegreen_cutover_seconds_bucket", le="0.025") == 1
    assert _value(series, "bluegreen_cutover_seconds_bucket", le="1.0") == 2
    assert _value(series, "bluegreen_agent_tick_duration_seconds") == 0.042
    assert _value(series, "bluegreen_agent_last_sample_age_seconds") == 1.0
    assert _value(series, "bluegreen_canary_percent", color="green") == 10
    assert _value(series, "bluegreen_canary_percent", color="blue") == 0


def test_no_secret_in_any_label_or_value(tmp_path: Path) -> None:
    text, series = _scrape(tmp_path)
    assert SECRET not in text
    assert "alice" not in text and "bob" not in text  # operators are a kind, not a series each
    info = series["bluegreen_slot_info"]
    green = {"color": "green", "version": "v2-***", "image": "registry/svc:v2-***"}
    assert {"service": "web", **green} in [lab for lab, _ in info]


def test_serves_on_loopback(tmp_path: Path) -> None:
    server = serve(("127.0.0.1", 0), lambda: [_service(tmp_path)])
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            body = answer.read().decode()
        assert "bluegreen_slot_height" in body and SECRET not in body
    finally:
        server.shutdown()
        server.server_close()


def test_every_series_names_its_service_and_each_name_is_one_family(tmp_path: Path) -> None:
    """One exporter for every service the agent watches: a family per name (Prometheus rejects
    a name twice in a scrape), the same series once per service."""
    text = _scrape_text(_service(tmp_path, "api"), _service(tmp_path, "web"))
    families = list(text_string_to_metric_families(text))
    names = [family.name for family in families]
    assert len(names) == len(set(names)) > 15
    for family in families:
        for sample in family.samples:
            assert sample.labels.get("service") in ("api", "web"), (family.name, sample)
    heights = {
        s.labels["service"]: s.value
        for family in families
        if family.name == "bluegreen_slot_height"
        for s in family.samples
        if s.labels["color"] == "green"
    }
    assert heights == {"api": 400, "web": 400}
    ticks = [f for f in families if f.name == "bluegreen_agent_tick_duration_seconds"]
    assert [s.labels for s in ticks[0].samples] == [{"service": "api"}, {"service": "web"}]
    assert text.count("# TYPE bluegreen_slot_height gauge") == 1


def test_listen_validation() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert parse_listen(":9464") == ("127.0.0.1", 9464)
    assert listen_problem("127.0.0.1:9464", False) is None
    assert "loopback" in (listen_problem("0.0.0.0:9464", False) or "")
    assert listen_problem("0.0.0.0:9464", True) is None
    assert "HOST:PORT" in (listen_problem("9464", False) or "")
    assert "HOST:PORT" in (listen_problem("127.0.0.1:99999", False) or "")


def test_config_key_validated(tmp_path: Path) -> None:
    base = WEB
    with pytest.raises(ConfigError, match=re.escape("metrics.listen: 10.1.2.3 is not a loopback")):
        parse_config(base + '\n[metrics]\nlisten = "10.1.2.3:9464"\n')
    with pytest.raises(ConfigError, match="listne"):
        parse_config(base + '\n[metrics]\nlistne = "127.0.0.1:9464"\n')
    config = parse_config(base + '\n[metrics]\nlisten = "127.0.0.1:9464"\n')
    assert config.metrics.listen == "127.0.0.1:9464"


def test_runtime_docker_host_reaches_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setenv("DOCKER_HOST", "unix:///from/env.sock")
    default = parse_config(WEB)
    assert open_installation(default).runtime.where == "unix:///from/env.sock"
    podman = parse_config(WEB + '\n[runtime]\ndocker_host = "unix:///run/podman-bg.sock"\n')
    assert open_installation(podman).runtime.where == "unix:///run/podman-bg.sock"
    with pytest.raises(ConfigError, match=re.escape("runtime.docker_host")):
        parse_config(WEB + '\n[runtime]\ndocker_host = "/run/podman.sock"\n')
