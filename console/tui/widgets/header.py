"""The top bar: service, live colour, agent, operator lock, and the READ-ONLY / PAUSED badges."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label

from console.core.durations import duration_text
from console.core.model import Status
from console.tui.format import clock_time
from console.tui.widgets.edges_part import edges_parts
from console.tui.widgets.holds_badge import holds_parts
from console.tui.widgets.sessions_part import sessions_parts
from console.tui.widgets.text_line import TextLine

# An agent whose heartbeat is older than this is shown as stale: nobody is sampling or switching.
STALE_HEARTBEAT_SECONDS = 10.0


def _agent_part(status: Status, now: float) -> tuple[str, str]:
    agent = status.agent
    if not agent.running:
        return "agent stopped: readiness and auto-switch are paused", "$error"
    if agent.heartbeat is not None and now - agent.heartbeat > STALE_HEARTBEAT_SECONDS:
        return f"agent silent for {duration_text(now - agent.heartbeat)}", "$warning"
    pid = f" ({agent.pid_text()})" if agent.pid else ""
    return f"agent running{pid}", "$success"


def _lock_part(status: Status, now: float) -> tuple[str, str]:
    lock = status.lock
    if lock is None:
        return "lock free", "$text-muted"
    where = f"@{lock.ssh_client}" if lock.ssh_client else ""
    return (
        f"lock: {lock.user}{where} '{lock.action}' since {clock_time(lock.since)}"
        f" ({duration_text(now - lock.since)})",
        "$warning",
    )


def header_content(status: Status | None, degraded: str | None, now: float) -> Content:
    parts: list[str | tuple[str, str]] = []
    if status is None:
        parts.append(("waiting for the first status…", "$text-muted"))
    else:
        live_style = {"blue": "bold $primary", "green": "bold $success"}
        parts += [(status.service, "bold"), "  live "]
        if status.live is None:
            parts.append(("none", "$warning"))
        else:
            parts.append((f"● {status.live}", live_style[status.live]))
        if status.canary is not None:
            parts.append(
                (f"  canary {status.canary.percent} % → {status.canary.color}", "$warning")
            )
        parts += holds_parts(status.holds, now)
        parts += sessions_parts(status)  # a session-kept switch in progress ([sessions])
        parts.append("  ")
        parts.append(_agent_part(status, now))
        parts.append("  ")
        parts.append(_lock_part(status, now))
        parts += edges_parts(status, now)  # several edge proxies ([[proxy.edges]])
    if degraded:
        age = duration_text(max(0.0, now - status.at)) if status else ""
        since = f" (showing data from {clock_time(status.at)}, {age} ago)" if status else ""
        parts += ["\n", (f"⚠ degraded: {degraded}{since}", "bold $error")]
    return Content.assemble(*parts)


class AppHeader(Horizontal):
    """Service summary on the left, mode badges on the right."""

    def compose(self) -> ComposeResult:
        yield TextLine(header_content(None, None, 0.0), id="header-info")
        yield Label("PAUSED", id="paused-badge", classes="badge")
        yield Label("READ-ONLY", id="read-only-badge", classes="badge")

    def show(self, status: Status | None, degraded: str | None, now: float) -> None:
        self.query_one("#header-info", TextLine).show(header_content(status, degraded, now))

    def set_badges(self, *, read_only: bool, paused: bool) -> None:
        self.query_one("#read-only-badge").display = read_only
        self.query_one("#paused-badge").display = paused
