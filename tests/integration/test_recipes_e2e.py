"""Every recipe of docs/RECIPES.md runs end to end as written: a fresh installation per recipe
(its own nginx from `proxy snippet`, `proxy install`), the first `deploy --switch never --wait`
must end with the colour ready on the recipe's own progress source and readiness, and
`config check --probe` reads its sources (and says whether a configured log pattern was seen).

The service is the recipe stand-in (console/sandbox/recipe), which speaks every interface the
recipes describe; recipe 1 runs the explorer stand-in. A recipe that cannot become ready — a
wrong field, a log line the service never prints, a head that never moves — fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.core.config import parse_config
from tests import ports
from tests.integration.recipe_world import Install, World, recipe_blocks, world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

RECIPES = recipe_blocks(Path(__file__).resolve().parents[2] / "docs" / "RECIPES.md")
PG_PORT, RPC_PORT, PROXY_PORT, BLUE_PORT, GREEN_PORT = ports.RECIPES_E2E


@pytest.fixture(scope="module")
def recipes_world() -> Iterator[World]:
    with world("bg-recipes-", PG_PORT, RPC_PORT, "recipes-e2e") as made:
        yield made


@pytest.mark.parametrize("index", range(len(RECIPES)), ids=lambda i: f"recipe{i + 1}")
def test_recipe_becomes_ready_as_written(
    recipes_world: World, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in recipes_world.secrets().items():
        monkeypatch.setenv(name, value)
    for database in ("blue", "green"):  # each recipe's service starts from empty databases
        recipes_world.pg.drop_database(database)
        recipes_world.pg.create_database(database)
    install = Install(
        recipes_world, RECIPES[index], f"recipe{index + 1}", (PROXY_PORT, BLUE_PORT, GREEN_PORT)
    )
    try:
        config = parse_config(install.config.read_text())
        code, out = install.cli("config", "check")
        assert code == 0, out
        install.install_proxy()
        # LISTEN_PORT: where the real service listens by itself (graph-node's 8030), for the
        # stand-in, which has no port of its own.
        listen = f"LISTEN_PORT={config.image.container_port}"
        code, out = install.cli(
            "deploy", recipes_world.tag, "--switch", "never", "--wait", "--env", listen
        )
        assert code == 0, f"{out}\n--- blue's log ---\n{install.logs('blue')[-2000:]}"
        blue = install.status()["slots"]["blue"]
        assert blue["state"] == "ready" and blue["ready"], blue
        assert all(c["met"] for c in blue["conditions"]), blue["conditions"]
        if config.catchup:
            assert blue["height"] is not None and blue["lag"] is not None
            assert blue["lag"] <= config.readiness.max_lag, blue
            assert blue["height"] >= 1400, blue  # it indexed the chain's history to get there

        code, out = install.cli("config", "check", "--probe")
        assert code == 0, out
        if config.catchup:
            assert re.search(r"· blue\s+\w+: height [\d,]+", out), out
        pattern = config.readiness.log_pattern
        if pattern:  # recipe 1: the explorer's line, seen in blue's logs; green runs nothing
            assert f'· blue   log_pattern "{pattern}": seen in its last' in out, out
            assert f'· green  log_pattern "{pattern}": container' in out, out
        else:
            assert "log_pattern" not in out, out
    finally:
        install.tear_down()
