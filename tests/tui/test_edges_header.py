"""The console's header with several edge proxies (issue 25.3): each edge's host and where it
routes; an edge that does not answer or differs from the intent stands out, with what the agent
re-applies — in an operator's console and a read-only one alike (through Pilot)."""

from __future__ import annotations

import dataclasses

import pytest
from textual.content import Content

from console.core.contracts.edges import EdgeIntent, EdgeReading, EdgesView
from console.core.contracts.proxy import UNANSWERED, ReadBack
from console.core.model import Canary, Status
from console.tui.app import BluegreenApp
from console.tui.widgets.text_line import TextLine
from tests.tui.conftest import settle, wait_until
from tests.tui.fake_console import FIXED_NOW, FakeConsole, fixed_clock

pytestmark = pytest.mark.tui
SIZE = (160, 40)
INTENT = EdgeIntent("blue", None, "switch to blue", FIXED_NOW - 60)
AGREED = EdgesView(
    FIXED_NOW - 2,
    (
        EdgeReading("default", "127.0.0.1", ReadBack(True, "blue", Canary("green", 10))),
        EdgeReading("edge-h", "10.82.0.2", ReadBack(True, "blue", Canary("green", 10))),
    ),
    dataclasses.replace(INTENT, canary=Canary("green", 10)),
)


class EdgesConsole(FakeConsole):
    view: EdgesView = AGREED

    def status(self) -> Status:
        return dataclasses.replace(super().status(), edges=self.view)


def header_text(app: BluegreenApp) -> Content:
    content = app.screen.query_one("#header-info", TextLine).content
    assert isinstance(content, Content)
    return content


def styled(content: Content, text: str) -> str:
    """The style of the span that holds `text` in the header."""
    start = content.plain.index(text)
    return " ".join(str(s.style) for s in content.spans if s.start <= start < s.end)


@pytest.mark.parametrize("read_only", [False, True])
async def test_the_header_names_each_edge_and_marks_one_that_differs(read_only: bool) -> None:
    console = EdgesConsole(read_only=read_only)
    app = BluegreenApp(console, clock=fixed_clock)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = header_text(app).plain
        assert "edges  default (127.0.0.1) → blue + 10 % → green" in text, text
        assert "edge-h (10.82.0.2) → blue + 10 % → green  read 2s ago" in text, text
        assert "NOT AGREE" not in text and "error" not in styled(header_text(app), "edge-h")
        console.view = EdgesView(  # edge-h applied a late switch; then it stops answering
            FIXED_NOW - 1,
            (
                EdgeReading("default", "127.0.0.1", ReadBack(True, "blue")),
                EdgeReading("edge-h", "10.82.0.2", ReadBack(True, "green")),
            ),
            INTENT,
        )
        await wait_until(pilot, lambda: "NOT AGREE" in header_text(app).plain, timeout=5)
        content = header_text(app)
        assert "EDGES DO NOT AGREE: the agent re-applies routes to blue" in content.plain
        assert "error" in styled(content, "edge-h (10.82.0.2) → green")
        assert "error" not in styled(content, "default (127.0.0.1) → blue")
        console.view = dataclasses.replace(
            console.view,
            readings=(console.view.readings[0], EdgeReading("edge-h", "10.82.0.2", UNANSWERED)),
        )
        await wait_until(pilot, lambda: "no answer" in header_text(app).plain, timeout=5)
        assert "error" in styled(header_text(app), "edge-h (10.82.0.2) ✗ no answer")
