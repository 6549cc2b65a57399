"""Issue 21's acceptance: re-index means from nothing.

Recipe 8 as written (an SQD-style processor: data in `public`, its progress in a schema of its
own, `squid_processor`, which it resumes from if it finds it; `reset_database = true`), on real
PostgreSQL, Docker and nginx. Green starts out used: an earlier release left its rows and its
progress there (block 1,400). Then four deploys alternate colours with a switch after each; the
last three go into a colour a previous release used, and each must re-index from block 0 — its
first indexed batch starts at 0, and at ready its rows are blocks 0..height without a gap — with
the reset's event naming both schemas it dropped. A database user who may not drop a schema gets
one sentence naming the missing ownership, and nothing starts.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests import ports
from tests.integration.recipe_world import Install, World, recipe_blocks, world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SQD_RECIPE = recipe_blocks(Path(__file__).resolve().parents[2] / "docs" / "RECIPES.md")[7]
PG_PORT, RPC_PORT, PROXY_PORT, BLUE_PORT, GREEN_PORT = ports.RESET_DATABASE
FIRST_BATCH = re.compile(r"indexed blocks (\d+)\.\.(\d+) head (\d+)")


@pytest.fixture(scope="module")
def reset_world() -> Iterator[World]:
    with world("bg-reset-", PG_PORT, RPC_PORT, "reset-db") as made:
        yield made


@pytest.fixture(scope="module")
def install(reset_world: World) -> Iterator[Install]:
    assert "reset_database = true" in SQD_RECIPE and "squid" in SQD_RECIPE
    made = Install(reset_world, SQD_RECIPE, "resetdb", (PROXY_PORT, BLUE_PORT, GREEN_PORT))
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
            "INSERT INTO public.indexed_blocks SELECT generate_series(%s, %s)", (height - 5, height)
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


def test_each_release_re_indexes_from_block_0(reset_world: World, install: Install) -> None:
    leave_an_earlier_release(reset_world.urls["green"], 1400)
    for number, color in enumerate(("blue", "green", "blue", "green"), start=1):
        tag = reset_world.tag
        code, out = install.cli("deploy", tag, "--switch", "never", "--wait")
        assert code == 0, f"{out}\n--- log ---\n{install.logs(color)[-2000:]}"
        assert f"into {color}" in out, out
        status = install.status()["slots"][color]
        assert status["state"] == "ready", status
        count, lowest, highest = rows(reset_world.urls[color])
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


def test_a_user_who_may_not_drop_a_schema_gets_one_sentence_and_nothing_starts(
    reset_world: World, install: Install
) -> None:
    admin_url = reset_world.urls["green"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS weak")
        conn.execute("CREATE ROLE weak LOGIN PASSWORD 'weak-secret-pw'")
    weak_url = re.sub(r"//[^@]*@", "//weak:weak-secret-pw@", admin_url)
    idle = "blue" if install.status()["live"] == "green" else "green"
    assert idle == "blue"
    running_before = container_deployment(install.containers[idle])
    code, out = install.cli(
        "deploy", reset_world.tag, "--switch", "never", env={"BLUE_DB_URL": weak_url}
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
