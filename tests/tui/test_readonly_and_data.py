"""Read-only mode, hostile log lines, and a failing store: the app shows, never crashes."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Log

from console.core.config.sources import NoSource
from console.tui.actions import MUTATING_ACTIONS
from console.tui.app import BluegreenApp
from console.tui.widgets.log_pane import (
    MAX_FLUSH_LINES,
    MAX_LINE_CHARS,
    MAX_LINES,
    LogPane,
    _Follower,
    plain_line,
)
from tests.tui.conftest import settle, wait_until
from tests.tui.fake_console import FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (120, 40)


def make_app(console: FakeConsole) -> BluegreenApp:
    return BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]


async def test_read_only_binds_no_mutation_and_shows_badge() -> None:
    console = FakeConsole(read_only=True)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = app.screen
        assert main.query_one("#read-only-badge").display
        bound = {binding.action for _, binding, *_ in main.active_bindings.values()}
        assert not {f"app.{action}" for action in MUTATING_ACTIONS} & bound
        assert "app.toggle_follow" in bound
        for key in ("D", "S", "R"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is main, f"{key} must open nothing in read-only mode"
        for action in MUTATING_ACTIONS:
            assert app.check_action(action, ()) is False
            await app.run_action(action)  # e.g. from a palette: still refused by the app
        assert console.mutation_calls() == []
        titles = {command.title for command in app.get_system_commands(main)}
        assert not {"Deploy", "Switch", "Roll back"} & titles


async def test_operator_console_has_no_read_only_badge() -> None:
    app = make_app(FakeConsole())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#read-only-badge").display


async def test_other_consoles_lock_appears_after_a_poll() -> None:
    console = FakeConsole(read_only=True)
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.screen.query_one("#header-info")
        assert "lock free" in str(header.render())
        console.with_lock("carol", "switch")
        await wait_until(pilot, lambda: "carol" in str(header.render()), timeout=3)
        assert "'switch' since 15:05:05" in str(header.render())


HOSTILE = [
    "[bold red]x[/]",
    "\x1b[31mred\x1b[0m plain \x1b]0;title\x07after",
    "A" * 100_000,
    b"bad \xff\xfe bytes".decode("utf-8", errors="replace"),
    "tab\there\x00nul\x07bell",
]


def test_plain_line_strips_escapes_and_bounds_length() -> None:
    assert plain_line("[bold red]x[/]") == "[bold red]x[/]"
    assert plain_line("\x1b[31mred\x1b[0m plain \x1b]0;title\x07after") == "red plain after"
    assert plain_line(b"bad \xff bytes") == "bad \ufffd bytes"
    assert plain_line("a\x00b\x07c\r\n") == "a\ufffdb\ufffdc"
    long = plain_line("A" * 100_000)
    assert long.startswith("A" * MAX_LINE_CHARS) and long.endswith("[98,000 more characters]")


async def test_hostile_log_lines_are_shown_as_plain_text() -> None:
    console = FakeConsole(log_lines={"blue": HOSTILE, "green": []})
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(LogPane)
        await wait_until(pilot, lambda: len(pane.lines) == len(HOSTILE))
        log = app.screen.query_one("#log", Log)
        assert list(log.lines) == pane.lines
        rows = [log.render_line(y) for y in range(len(HOSTILE))]  # what the terminal gets
        shown = ["".join(segment.text for segment in row).rstrip() for row in rows]
        assert shown[0] == "[bold red]x[/]"  # markup is not interpreted
        assert shown[1] == "red plain after"  # ANSI is not interpreted either
        assert shown[2] == "A" * len(shown[2]) and len(shown[2]) > 40  # cut at the pane width
        assert pane.lines[2].endswith("[98,000 more characters]")
        assert "\ufffd" in shown[3]
        assert all("\x1b" not in line and "\x00" not in line for line in shown)
        styles = {segment.style for row in rows[:2] for segment in row}
        assert not any(style and (style.bold or style.italic) for style in styles)


def test_a_flush_takes_the_newest_lines_and_notes_the_skipped() -> None:
    follower = _Follower("blue")
    for n in range(MAX_FLUSH_LINES + 50):
        follower.add(f"line {n}")
    batch = follower.take()
    assert not follower.pending
    assert batch[0] == "… 50 lines skipped: arriving faster than a screen can show …"
    assert batch[1:] == [f"line {n}" for n in range(50, MAX_FLUSH_LINES + 50)]
    # Lines pushed out of the full buffer (the display paused) are counted too.
    for n in range(MAX_LINES + 300):
        follower.add(f"line {n}")
    assert follower.take()[0].startswith(f"… {MAX_LINES + 300 - MAX_FLUSH_LINES:,} lines skipped")
    follower.add("a")
    follower.add(b"b")
    assert follower.take() == ["a", "b"]


async def test_following_stays_at_the_end_through_a_flood() -> None:
    # A regression: the first big write scrolled before the log knew its new height, stopped
    # short, and from then on the pane counted "+N new lines" while it claimed to follow.
    flood = [f"block {n} processed" for n in range(5_000)]
    app = make_app(FakeConsole(log_lines={"blue": flood, "green": []}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(LogPane)
        await wait_until(pilot, lambda: pane.lines[-1] == "block 4999 processed")
        log = app.screen.query_one("#log", Log)
        # Another regression: the rows above the pane were drawn after that scroll, the pane got
        # shorter, and with the flood over no write came to scroll again — the end stayed below
        # the view. The next flush (every 0.2 s) must bring it back, however late it runs.
        await wait_until(pilot, lambda: log.is_vertical_scroll_end, timeout=5)
        assert pane.follow and pane.unseen == 0
        assert log.line_count > log.size.height
        assert not app.screen.query_one("#log-new-lines").display
        assert any("lines skipped" in line for line in pane.lines)


async def test_status_failure_degrades_and_recovers() -> None:
    console = FakeConsole()
    console.status_error = RuntimeError("database is locked")
    app = BluegreenApp(console, clock=fixed_clock, poll_seconds=0.05)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.screen.query_one("#header-info")
        text = str(header.render())
        assert "degraded" in text and "database is locked" in text
        assert app.is_running
        polls = sum(1 for name, _ in console.calls if name == "status")
        await wait_until(pilot, lambda: sum(1 for n, _ in console.calls if n == "status") > polls)
        console.status_error = None
        await wait_until(pilot, lambda: app.degraded is None)
        assert "degraded" not in str(header.render())
        assert "SYNCING" in str(app.screen.query_one("#green-state").render())


async def test_a_service_without_catch_up_shows_no_height_eta_or_sparkline_rows() -> None:
    plain = FakeConsole()
    plain.config = dataclasses.replace(plain.config, candidate=NoSource())
    app = make_app(plain)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for color in ("blue", "green"):
            for part in ("height-row", "speed", "sparkline"):
                assert not app.screen.query_one(f"#{color}-{part}").display, part
            assert app.screen.query_one(f"#{color}-state").display
            assert app.screen.query_one(f"#{color}-gate").display
    reindexing = make_app(FakeConsole())
    async with reindexing.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert reindexing.screen.query_one("#blue-height-row").display
        assert reindexing.screen.query_one("#blue-speed").display
