"""Every recipe of docs/RECIPES.md runs end to end as written: a fresh installation per recipe
(its own nginx from `proxy snippet`, `proxy install`), the first `deploy --switch never --wait`
must end with the colour ready on the recipe's own progress source and readiness, and
`config check --probe` reads its sources (and says whether a configured log pattern was seen).

The service is the recipe stand-in (console/sandbox/recipe), which speaks every interface the
recipes describe; recipe 1 runs the explorer stand-in. A recipe that cannot become ready — a
wrong field, a log line the service never prints, a head that never moves — fails here.

Then issue 21's acceptance on recipe 8: every release re-indexes from block 0 although the
processor keeps its progress in a schema of its own; a user who may not drop it gets one sentence.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from console.core.config.load import parse_config
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


# ── issue 21's acceptance: recipe 8 (an SQD-style processor that keeps its progress in a schema
# of its own, squid_processor, and resumes from it if it is left; reset_database = true) ─────────
# Green starts out used: an earlier release left its rows and its progress there (block 1,400).
# Four deploys alternate colours with a switch after each; the last three go into a colour a
# previous release used, and each must re-index from block 0 — its first indexed batch starts at
# 0, and at ready its rows are blocks 0..height without a gap — with the reset's event naming both
# schemas it dropped. A database user who may not drop a schema gets one sentence naming the
# missing ownership, and nothing starts.

SQD_RECIPE = RECIPES[7]
FIRST_BATCH = re.compile(r"indexed blocks (\d+)\.\.(\d+) head (\d+)")


@pytest.fixture(scope="module")
def install(recipes_world: World) -> Iterator[Install]:
    assert "reset_database = true" in SQD_RECIPE and "squid" in SQD_RECIPE
    made = Install(recipes_world, SQD_RECIPE, "resetdb", ports.RESET_DATABASE)
    try:
        code, out = made.cli("config", "check")
        assert code == 0, out
        made.install_proxy()
        yield made
    finally:
        made.tear_down()


def leave_an_earlier_release(url: str, height: int) -> None:
    """What a release that indexed to `height` leaves behind: rows and its own progress."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.indexed_blocks (height BIGINT PRIMARY KEY)")
        conn.execute(
            "INSERT INTO public.indexed_blocks SELECT generate_series(%s::bigint, %s::bigint)",
            (height - 5, height),
        )
        conn.execute("CREATE SCHEMA squid_processor")
        conn.execute("CREATE TABLE squid_processor.status (id INT PRIMARY KEY, height BIGINT)")
        conn.execute("INSERT INTO squid_processor.status VALUES (0, %s)", (height,))


def rows(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), min(height), max(height) FROM public.indexed_blocks"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def events(install: Install) -> list[dict]:  # type: ignore[type-arg]
    code, out = install.cli("history", "--json")
    assert code == 0, out
    return json.loads(out)["events"]  # type: ignore[no-any-return]


def test_recipe8_each_release_re_indexes_from_block_0(
    recipes_world: World, install: Install
) -> None:
    for database in ("blue", "green"):  # as the recipe runs above left them: start over
        recipes_world.pg.drop_database(database)
        recipes_world.pg.create_database(database)
    leave_an_earlier_release(recipes_world.urls["green"], 1400)
    for number, color in enumerate(("blue", "green", "blue", "green"), start=1):
        tag = recipes_world.tag
        code, out = install.cli("deploy", tag, "--switch", "never", "--wait")
        assert code == 0, f"{out}\n--- log ---\n{install.logs(color)[-2000:]}"
        assert f"into {color}" in out, out
        status = install.status()["slots"][color]
        assert status["state"] == "ready", status
        count, lowest, highest = rows(recipes_world.urls[color])
        log = install.logs(color)
        first = FIRST_BATCH.search(log)
        assert first is not None, log[-2000:]
        # Re-indexed from nothing: its first batch starts at block 0 (it resumed from nowhere),
        # and at ready it holds every block 0..height, no gap, up to the head it was ready at.
        assert int(first.group(1)) == 0 and "resuming" not in log, log[:2000]
        assert lowest == 0 and count == highest + 1, (count, lowest, highest)
        assert highest >= status["head"] - 2 >= 1400, (highest, status)
        if number > 1:  # a used colour: both schemas dropped, and the event says so
            said = (
                f"Emptied {color}'s database: dropped schemas public (1 table), "
                "squid_processor (1 table)."
            )
            assert said in out, out
            reset = [e for e in events(install) if e["kind"] == "reset"][-1]
            assert reset["text"] == said and reset["color"] == color, reset
        code, out = install.cli("switch", "--yes")
        assert code == 0, out
        assert install.status()["live"] == color


def test_recipe8_a_user_who_may_not_drop_a_schema_gets_one_sentence_and_nothing_starts(
    recipes_world: World, install: Install
) -> None:
    blue_url = recipes_world.urls["blue"]
    with psycopg.connect(blue_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS weak")
        conn.execute("CREATE ROLE weak LOGIN PASSWORD 'weak-secret-pw'")
    weak_url = re.sub(r"//[^@]*@", "//weak:weak-secret-pw@", blue_url)  # blue's, as user weak
    idle = "blue" if install.status()["live"] == "green" else "green"
    assert idle == "blue"
    running_before = container_deployment(install.containers[idle])
    code, out = install.cli(
        "deploy", recipes_world.tag, "--switch", "never", env={"BLUE_DB_URL": weak_url}
    )
    assert code != 0, out
    sentence = (
        "Cannot empty blue's database: user weak may not drop schema public (owned by the "
        "database's owner); make weak the owner of database blue (ALTER DATABASE blue OWNER TO "
        "weak), or turn image.reset_database off. Nothing was started."
    )
    assert sentence in out, out
    assert "weak-secret-pw" not in out and "Traceback" not in out
    assert container_deployment(install.containers[idle]) == running_before  # nothing started
    assert [e for e in events(install) if e["kind"] == "failure"][-1]["text"] == sentence


def container_deployment(name: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", "-f", '{{index .Config.Labels "bluegreen.deployment"}}', name],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()
