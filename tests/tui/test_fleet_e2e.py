"""The overview on real parts (issue 23 point 4).

- A fleet directory of our own, whose services' parts are absent (no containers, no agent) and
  one broken file: `bluegreen --config DIR watch` / `ui` in a real terminal (a pty at 80×24)
  opens on the overview, shows each service as it is (nothing live, agent stopped) and the
  broken one with its error.
- The fleet sandbox (explorer, web and evm behind one nginx, `sandbox up --profile fleet`),
  driven through Pilot with one real console per service as the CLI builds them: enter/esc,
  sort, filter, an action's confirmation naming the service, read-only refusing, 80×24.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from console.core.config.fleet import load_fleet
from console.core.service import Console
from console.tui.app import BluegreenApp
from console.tui.screens.confirm_switch import ConfirmSwitchScreen
from console.tui.screens.fleet import FleetScreen, FleetWatchScreen
from console.tui.screens.main import FleetOperatorScreen
from console.tui.widgets.fleet_table import FleetTable
from console.tui.widgets.text_line import TextLine
from console.wiring import open_console
from tests import ports
from tests.integration.sandbox_fixture import Sandbox, bring_up, tear_down
from tests.tui.conftest import wait_until
from tests.web_browser import browser_on, served

pytestmark = [pytest.mark.integration, pytest.mark.tui, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]
WEB_SCREENSHOT = ROOT / "screenshots" / "web-fleet-overview.png"
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[a-zA-Z~]|\x1b[()][AB0]|\x1b\][^\x07]*\x07|\x1b[=>78]")


# ── a fleet directory of our own: services whose parts are absent ──────────────────────────────


def write_fleet(root: Path) -> Path:
    etc = root / "etc"
    etc.mkdir()
    (etc / "host.toml").write_text(
        f'state_dir = "{root / "state"}"\n[proxy]\ninclude_dir = "{root / "nginx"}"\n'
        f'proxy_url = "http://127.0.0.1:{ports.TUI_FLEET.start}"\n'
    )
    for index, name in enumerate(("alpha", "beta")):
        port = ports.TUI_FLEET.start + 1 + 2 * index  # claimed in config only: nothing binds it
        (etc / f"{name}.toml").write_text(
            f'[image]\nrepository = "bgfleet-{name}"\n'
            f'[slots.blue]\ncontainer = "bgfleet-{name}-blue"\nhost_port = {port}\n'
            f'[slots.green]\ncontainer = "bgfleet-{name}-green"\nhost_port = {port + 1}\n'
        )
    (etc / "broken.toml").write_text('[slots.blue]\nhost_port = "x"\n')
    return etc


def in_a_terminal(args: list[str], keys: list[bytes]) -> tuple[int, str]:
    """Run bluegreen in a pty of 80×24, type each key a few seconds apart (the first once it has
    drawn); return its exit code and everything it drew, as text."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console, as an operator starts it
        os.environ.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
        os.execv(sys.executable, [sys.executable, "-m", "console", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = b""

    def read_for(duration: float) -> None:
        nonlocal out
        end = time.monotonic() + duration
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                out += chunk

    read_for(6.0)
    for key in keys:
        os.write(fd, key)
        read_for(2.0)
    read_for(3.0)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), ANSI.sub(b"", out).decode(errors="replace")


def test_watch_in_a_real_terminal_opens_on_the_overview(tmp_path: Path) -> None:
    etc = write_fleet(tmp_path)
    code, text = in_a_terminal(["--config", str(etc), "watch"], [b"q"])
    assert code == 0, text[-2000:]
    for said in ("3 services", "alpha", "beta", "broken", "skipped", "agent stopped", "READ-ONLY"):
        assert said in text, f"{said!r} not on screen:\n{text[-3000:]}"
    assert "Switch" not in text  # read-only: no mutating key is even offered


def test_ui_in_a_real_terminal_offers_the_actions_on_the_selected_service(tmp_path: Path) -> None:
    etc = write_fleet(tmp_path)
    code, text = in_a_terminal(["--config", str(etc), "ui"], [b"S", b"\x1b", b"q"])
    assert code == 0, text[-2000:]
    assert "Deploy" in text and "Switch" in text, text[-3000:]
    # S on alpha, the first row (nothing deployed): its dialog, or why not, names the service.
    assert "alpha: Switch" in text or "switch alpha" in text, text[-3000:]


def test_the_web_view_shows_the_fleet_the_same_way(tmp_path: Path) -> None:
    """`watch --web` on a fleet directory: the page opens on the overview, Enter opens a
    service's screen and Escape comes back, in a real headless Chromium."""
    etc = write_fleet(tmp_path)
    url = f"http://127.0.0.1:{ports.TUI_FLEET_WEB}/"
    with served(etc, ports.TUI_FLEET_WEB), browser_on(url, width=1200, height=700) as view:
        overview = view.wait_for_text(
            lambda t: all(w in t for w in ("3 services", "alpha", "beta", "skipped", "READ-ONLY")),
            timeout=40,
        )
        assert "Switch" not in overview
        view.screenshot(WEB_SCREENSHOT)
        view.press("Enter")  # the first row: alpha
        view.wait_for_text(lambda t: "BLUE" in t and "GREEN" in t and "Fleet" in t, timeout=30)
        view.press("Escape")
        view.wait_for_text(lambda t: "3 services" in t and "Fleet" not in t, timeout=30)


# ── the fleet sandbox ─────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def fleet_sandbox() -> Iterator[Sandbox]:
    world = bring_up(profile="fleet", port_base=ports.TUI_FLEET.start, history=2000)
    try:
        yield world
    finally:
        tear_down(world.dir)


@contextmanager
def fleet_app(world: Sandbox, read_only: bool) -> Iterator[tuple[BluegreenApp, dict[str, Console]]]:
    """The app on one console per service, as `bluegreen ui` builds them; closed after."""
    fleet = load_fleet(str(world.config), watching=read_only)
    assert set(fleet.services) == {"explorer", "web", "evm"} and not fleet.skipped
    consoles = {name: open_console(config, read_only) for name, config in fleet.services.items()}
    try:
        yield BluegreenApp(consoles, poll_seconds=0.5), consoles
    finally:
        for console in consoles.values():
            console.close()


def lines(overview: FleetWatchScreen) -> dict[str, str]:
    return {str(o.id): str(o.prompt) for o in overview.query_one(FleetTable).options}


async def live_everywhere(pilot: Pilot[Any], overview: FleetWatchScreen) -> None:
    """Every service's row shows its live colour (the sandbox deploys v1 to blue in each)."""
    await wait_until(
        pilot, lambda: all("● blue" in line for line in lines(overview).values()), timeout=60
    )


async def choose(pilot: Pilot[Any], overview: FleetWatchScreen, name: str) -> None:
    table = overview.query_one(FleetTable)
    table.highlighted = [str(o.id) for o in table.options].index(name)
    await pilot.pause()


async def test_the_fleet_sandbox_through_the_overview(fleet_sandbox: Sandbox) -> None:
    with fleet_app(fleet_sandbox, read_only=False) as (app, consoles):
        async with app.run_test(size=(80, 24)) as pilot:
            overview = app.overview
            assert isinstance(overview, FleetScreen)
            await live_everywhere(pilot, overview)
            screen = [strip.text for strip in app.screen._compositor.render_strips()]
            assert all(len(line) <= 80 for line in screen) and "SERVICE" in screen[1]
            rows = [line for line in screen if line.startswith((" explorer ", " web ", " evm "))]
            assert len([row for row in rows if "● blue v1" in row]) == 3, "\n".join(screen)
            # sort and filter
            await pilot.press("s")
            assert overview.sort == "alerts"
            await pilot.press("slash", "w", "e", "b")
            await wait_until(pilot, lambda: list(lines(overview)) == ["web"])
            await pilot.press("enter")  # leaves the filter for the table
            # enter opens web's own screen, esc comes back
            await choose(pilot, overview, "web")
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, FleetOperatorScreen))
            await wait_until(pilot, lambda: app.status is not None, timeout=20)
            assert app.status is not None and app.status.service == "web"
            header = app.screen.query_one("#header-info", TextLine)
            assert "web" in str(header.render())
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is overview)
            await pilot.press("escape")  # clears the filter
            await wait_until(pilot, lambda: len(lines(overview)) == 3)
            # an action's confirmation names the service it acts on; cancelled, nothing moves
            await choose(pilot, overview, "evm")
            await pilot.press("S")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSwitchScreen))
            title = str(app.screen.query_one("#switch-title", Label).render())
            assert title.startswith("evm: Switch blue → green"), title
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is overview)
        for name, console in consoles.items():
            assert console.status().live == "blue", name


async def test_the_fleet_sandbox_read_only(fleet_sandbox: Sandbox) -> None:
    with fleet_app(fleet_sandbox, read_only=True) as (app, consoles):
        async with app.run_test(size=(80, 24)) as pilot:
            overview = app.overview
            assert type(overview) is FleetWatchScreen
            await live_everywhere(pilot, overview)
            for key in ("S", "R", "D", "C"):
                await pilot.press(key)
            await pilot.pause()
            assert app.screen is overview
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is not overview)
            await pilot.press("S")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmSwitchScreen)
            # the core refuses too, whatever a key would have done
            with pytest.raises(Exception, match="read-only"):
                list(consoles["web"].switch())
