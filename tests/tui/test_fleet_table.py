"""The overview's table draws only what changed (console/tui/widgets/fleet_table.py): a sort or a
filter moves the services' kept lines instead of rendering every row again, and a cursor move
repaints two lines. What the operator sees must not change: checked on the rendered screen, the
mouse, and a row that changed while the filter hid it."""

from __future__ import annotations

from console.tui.app import BluegreenApp
from console.tui.screens.fleet import FleetWatchScreen
from console.tui.screens.main import FleetOperatorScreen
from console.tui.widgets.fleet_rows import SORTS
from console.tui.widgets.fleet_table import FleetTable
from tests.tui.conftest import wait_until
from tests.tui.fake_fleet import fake_fleet
from tests.tui.test_fleet_overview import fleet_app, lines, overview_ready

SIZE = (140, 30)


def table_rows(app: BluegreenApp) -> list[tuple[str, bool]]:
    """The table as painted: each row's service name and whether it is drawn highlighted."""
    screen = app.screen
    table = screen.query_one(FleetTable)
    region = table.content_region
    highlight = table.get_visual_style("option-list--option-highlighted").rich_style.bgcolor
    rows = []
    for strip in screen._compositor.render_strips()[region.y : region.bottom]:
        text = strip.text[region.x : region.right].strip()
        if not text:
            continue
        cell = next(seg for seg in strip if seg.text.strip() and seg.text.strip() in text)
        rows.append((text.split()[0], cell.style is not None and cell.style.bgcolor == highlight))
    return rows


def expected_order(overview: FleetWatchScreen) -> list[str]:
    shown = [row for row in overview._all_rows if row.matches(overview.needle)]
    return [row.name for row in sorted(shown, key=lambda row: row.sort_keys[overview.sort])]


async def test_each_sort_paints_the_rows_in_its_order_with_their_own_lines() -> None:
    app = fleet_app(fake_fleet(7))
    async with app.run_test(size=SIZE) as pilot:
        overview = await overview_ready(pilot)
        table = overview.query_one(FleetTable)
        options = {str(option.id): option for option in table.options}
        prompts = lines(overview)
        for sort in SORTS[1:]:
            await pilot.press("s")
            await pilot.pause()
            assert overview.sort == sort
            order = expected_order(overview)
            assert [name for name, _ in table_rows(app)] == order, sort
            # The same options, moved: each still shows its own service's line.
            assert [str(option.id) for option in table.options] == order
            assert all(options[str(o.id)] is o for o in table.options)
            assert lines(overview) == {name: prompts[name] for name in order}


async def test_the_cursor_stays_on_its_service_across_a_sort_and_is_painted_there() -> None:
    app = fleet_app(fake_fleet(7))
    async with app.run_test(size=SIZE) as pilot:
        overview = await overview_ready(pilot)
        await pilot.press("down", "down")
        await pilot.pause()
        chosen = overview.selected_name()
        assert [name for name, lit in table_rows(app) if lit] == [chosen]
        await pilot.press("s", "s")
        await pilot.pause()
        assert overview.selected_name() == chosen
        assert [name for name, lit in table_rows(app) if lit] == [chosen]
        await pilot.press("up")
        await pilot.pause()
        order = expected_order(overview)
        above = order[order.index(chosen) - 1]
        assert [name for name, lit in table_rows(app) if lit] == [above]


async def test_a_click_after_a_sort_opens_the_row_clicked() -> None:
    """The options' renderings carry their index for the mouse; a moved row's must follow."""
    app = fleet_app(fake_fleet(7))
    async with app.run_test(size=SIZE) as pilot:
        overview = await overview_ready(pilot)
        table = overview.query_one(FleetTable)
        await pilot.press("s", "s")  # by the idle colour: a different order from the names'
        await pilot.pause()
        order = expected_order(overview)
        assert order != sorted(order)
        target = order[3]
        await pilot.click(FleetTable, offset=(table.gutter.left + 2, order.index(target)))
        await wait_until(pilot, lambda: isinstance(app.screen, FleetOperatorScreen))
        await wait_until(pilot, lambda: app.status is not None)
        assert app.service_name == target and app.status is not None
        assert app.status.service == target


async def test_filter_then_clear_shows_every_row_in_order_with_what_changed_meanwhile() -> None:
    services = fake_fleet(7)
    app = fleet_app(services)
    async with app.run_test(size=SIZE) as pilot:
        overview = await overview_ready(pilot)
        await pilot.press("s")  # by alerts
        await pilot.press("slash", "f", "a", "i", "l")
        await pilot.pause()
        assert [name for name, _ in table_rows(app)] == ["indexer"]
        services["api"].live_version = "v9"  # while its row is filtered out
        await wait_until(pilot, lambda: any("v9" in r.text for r in overview._all_rows))
        await pilot.press("escape")
        await pilot.pause()
        order = expected_order(overview)
        assert len(order) == 8 and overview.needle == ""
        assert [name for name, _ in table_rows(app)] == order
        assert "blue v9" in lines(overview)["api"]
        screen = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any(line.strip().startswith("api ") and "blue v9" in line for line in screen)


async def test_the_filter_field_stays_put_so_filtering_never_resizes_the_table() -> None:
    app = fleet_app(fake_fleet(7))
    async with app.run_test(size=(80, 24)) as pilot:
        overview = await overview_ready(pilot)
        table = overview.query_one(FleetTable)
        size = table.size
        screen = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any("/ filter" in line for line in screen)  # where to type, said on screen
        await pilot.press("slash", "e", "m", "p")
        await pilot.pause()
        assert app.focused is overview.query_one("#fleet-filter")
        assert [name for name, _ in table_rows(app)] == ["web"] and table.size == size
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is table and overview.needle == "" and table.size == size
        assert len(table_rows(app)) == 8
