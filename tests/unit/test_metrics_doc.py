"""docs/METRICS.md stays true: its alert rules pass `promtool check rules`, a real scrape passes
`promtool check metrics`, and every metric the exporter emits is documented."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.test_metrics_exporter import _scrape_text as _scrape_services
from tests.unit.test_metrics_exporter import _service

DOC = Path(__file__).parents[2] / "docs" / "METRICS.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`; ./dev setup)"
)


def _scrape_text(tmp_path: Path) -> str:
    return _scrape_services(_service(tmp_path, "api"), _service(tmp_path, "web"))


def test_every_exported_metric_is_documented(tmp_path: Path) -> None:
    doc = DOC.read_text()
    names = {family.name for family in text_string_to_metric_families(_scrape_text(tmp_path))}
    assert len(names) > 15
    for name in names:
        documented = name if f"`{name}" in doc else f"{name}_total"
        assert f"`{documented}" in doc, f"{name} is not in docs/METRICS.md"


@needs_promtool
def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1
    rules = tmp_path / "rules.yml"
    rules.write_text(blocks[0])
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout


@needs_promtool
def test_a_scrape_passes_promtool_check_metrics(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=_scrape_text(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
