"""The console over a shared store that stops (issue 24, point 5), through Textual's Pilot: a real
PostgreSQL stalled (SIGSTOP) or killed (`pg_ctl stop -m immediate`). The header says the store is
unreachable and keeps the last state read with its age, keys still answer, and it recovers by
itself once the server is back — without the store's password anywhere on screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.core.config.load import load_config
from console.sandbox.postgres_proc import PostgresServer
from console.tui.app import BluegreenApp
from console.tui.widgets.log_pane import LogPane
from console.wiring import open_console, open_installation
from tests import ports
from tests.integration.test_shared_store import CONFIG
from tests.store_sites import down, postgres_server
from tests.tui.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.tui, pytest.mark.timeout(180)]

PG_PORT, BLUE, GREEN = ports.STORE_TUI
SIZE = (160, 40)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server(PG_PORT) as server:
        yield server


@pytest.fixture
def config(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    monkeypatch.setenv("STORE_URL", postgres.url("store"))
    path = tmp_path / "bluegreen.toml"
    path.write_text(CONFIG.format(root=tmp_path, blue=BLUE, green=GREEN, proxy=GREEN))
    operator = open_installation(load_config(str(path)))
    operator.store.set_live("blue", None)  # what the console will keep showing
    operator.close()
    yield path


def header(app: BluegreenApp) -> str:
    return str(app.main.query_one("#header-info").render())


async def answers_a_key(pilot: Pilot[int], app: BluegreenApp) -> None:
    pane = app.main.query_one(LogPane)
    before = pane.color
    await pilot.press("l")
    await wait_until(pilot, lambda: pane.color != before, 10)  # handled, not queued behind a read
    await pilot.press("l")


@pytest.mark.parametrize("how", ["stalled", "killed"])
async def test_the_header_says_the_store_is_unreachable_keys_answer_and_it_recovers(
    config: Path, postgres: PostgresServer, how: str
) -> None:
    console = open_console(load_config(str(config)), read_only=True)
    app = BluegreenApp(console)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.status is not None, 15)
            assert "● blue" in header(app) and "degraded" not in header(app)
            resume = down(postgres, how)
            try:
                await wait_until(pilot, lambda: "unreachable" in header(app), 30)
                shown = header(app)
                assert "● blue" in shown  # the last known state stays on screen…
                assert "showing data from " in shown and " ago)" in shown  # …with its age
                assert postgres.password not in shown
                await answers_a_key(pilot, app)
                assert app.is_running
            finally:
                resume()
            await wait_until(pilot, lambda: "degraded" not in header(app), 60)
            assert "● blue" in header(app) and app.degraded is None
    finally:
        console.close()
