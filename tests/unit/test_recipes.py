"""Every ```toml block of docs/RECIPES.md is a complete configuration that the real loader and
`bluegreen config check` accept, and each describes the shape of service its heading names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.cli import main
from console.core.config.load import parse_config
from console.core.config.sources import (
    HttpSource,
    JsonRpcSource,
    NoSource,
    PrometheusSource,
    SqlSource,
)

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "RECIPES.md"
BLOCKS = re.findall(r"^```toml\n(.*?)^```", RECIPES.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_there_are_eight_recipes() -> None:
    assert len(BLOCKS) == 8


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for block in BLOCKS:
        for name in re.findall(r"\$\{([A-Z_]+)\}", block):
            monkeypatch.setenv(name, f"postgresql://u:pw-{name.lower()}@db.internal/{name.lower()}")


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_recipe_passes_config_check(
    index: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bluegreen.toml"
    path.write_text(BLOCKS[index])
    assert main(["--config", str(path), "config", "check"]) == 0, capsys.readouterr().err
    assert ": OK." in capsys.readouterr().out


def test_each_recipe_is_the_shape_it_says() -> None:
    configs = [parse_config(block) for block in BLOCKS]
    explorer, web, frontend, evm, cosmos, ponder, graph, squid = configs
    assert explorer.candidate == SqlSource(query="SELECT MIN(height) FROM index_watermarks")
    assert explorer.image.reset_database
    assert isinstance(web.candidate, NoSource) and web.switch.policy == "auto"
    assert web.readiness.min_ready_seconds > 0 and web.readiness.log_pattern == ""
    assert frontend.switch.policy == "confirm" and frontend.switch.keep_previous_seconds > 0
    assert isinstance(evm.head, JsonRpcSource) and evm.head.rpc_method == "eth_blockNumber"
    assert isinstance(evm.candidate, HttpSource) and "{host_port}" in evm.candidate.url
    assert isinstance(cosmos.head, HttpSource)
    assert cosmos.head.field == "result.sync_info.latest_block_height"
    assert isinstance(ponder.candidate, HttpSource) and ponder.candidate.aggregate == "min"
    assert ponder.readiness.checks[0].expect_status == 200
    assert isinstance(graph.candidate, HttpSource) and graph.candidate.method == "POST"
    assert graph.effective_head is None and graph.candidate.head_field
    # Its own chain_height trails or equals its height near the head: an independent head.
    assert isinstance(squid.candidate, PrometheusSource) and not squid.candidate.head_metric
    assert isinstance(squid.effective_head, JsonRpcSource)
    assert squid.image.env["PROMETHEUS_PORT"] == "{port}" and squid.image.reset_database
    # No recipe waits for a log line it did not name (the explorer's is the explorer's own).
    assert [c.readiness.log_pattern for c in configs] == ["catchup completed"] + [""] * 7
