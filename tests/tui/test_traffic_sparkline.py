"""The slot panel's traffic history: req/s and 5xx/s sparklines, and the drain countdown on the
colour traffic has left."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Sparkline

from console.core.measures.traffic import TrafficFigures
from console.core.model import SlotState, SlotStatus
from console.tui.widgets.slot_panel import SlotPanel
from console.tui.widgets.text_line import TextLine
from console.tui.widgets.traffic_sparkline import TrafficSparkline, drain_text

pytestmark = pytest.mark.tui


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield SlotPanel("blue")


def slot(at: float, figures: TrafficFigures | None) -> SlotStatus:
    return SlotStatus(
        color="blue", state=SlotState.READY, container_state="running", updated_at=at,
        traffic=figures,
    )  # fmt: skip


def test_drain_text_counts_down_from_the_peak() -> None:
    figures = TrafficFigures(rps=0.0, open_connections=3, websockets=1)
    assert drain_text(figures, live=False, peak=12) == "draining: 3 of 12 open left · 1 websocket"
    assert drain_text(figures, live=True, peak=12) == ""
    assert drain_text(TrafficFigures(rps=0.0, open_connections=0), live=False, peak=12) == ""


async def test_sparklines_take_one_point_per_tick_and_the_old_colour_counts_down() -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(SlotPanel)
        spark = app.query_one(TrafficSparkline)
        panel.show(slot(1.0, None), live=True, history=[], now=1.0, catchup=False)
        await pilot.pause()
        assert not spark.display  # nothing counted yet: no empty plot
        for at, rps in ((2.0, 10.0), (2.0, 10.0), (3.0, 20.0)):  # the same tick twice
            figures = TrafficFigures(rps=rps, error_rate=0.5, open_connections=0)
            panel.show(slot(at, figures), live=True, history=[], now=at, catchup=False)
        await pilot.pause()
        assert spark.display
        assert app.query_one(".traffic-spark-rps", Sparkline).data == [10.0, 20.0]
        assert app.query_one(".traffic-spark-errors", Sparkline).data == [5.0, 10.0]
        drain = app.query_one(".traffic-drain", TextLine)
        for at, left in ((4.0, 5), (5.0, 2)):  # switched away: its connections drain
            figures = TrafficFigures(rps=0.0, open_connections=left, websockets=1)
            panel.show(slot(at, figures), live=False, history=[], now=at, catchup=False)
            await pilot.pause()
        assert drain.display and "draining: 2 of 5 open left · 1 websocket" in str(drain.render())
        figures = TrafficFigures(rps=0.0, open_connections=0, websockets=0)
        panel.show(slot(6.0, figures), live=False, history=[], now=6.0, catchup=False)
        await pilot.pause()
        assert not drain.display


async def test_a_first_reading_is_not_drawn_as_a_full_red_bar() -> None:
    """Textual draws a one-point sparkline as a full bar in its max colour: on the 5xx line
    that reads as an outage. The lines wait for their second point."""
    app = PanelApp()
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(SlotPanel)
        figures = TrafficFigures(rps=1.0, error_rate=0.0, open_connections=0)
        panel.show(slot(1.0, figures), live=True, history=[], now=1.0, catchup=False)
        await pilot.pause()
        errors = app.query_one(".traffic-spark-errors", Sparkline)
        assert errors.render_line(0).text.strip() == "▁" * errors.size.width
        panel.show(slot(2.0, figures), live=True, history=[], now=2.0, catchup=False)
        await pilot.pause()
        assert errors.data == [0.0, 0.0]
        assert errors.render_line(0).text.strip() == "▁" * errors.size.width
