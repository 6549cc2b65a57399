"""The proxy's colour read on the agent's thread: what it compares with, and what it reads."""

from __future__ import annotations

import time
from typing import Any

from console.agent.live_colour import LiveColourWatch
from console.core.contracts.proxy import ReadBack
from console.core.model import Actor, Canary, Color


class QuickProxy:
    """nginx live mode as the watch sees it: a quick admin answer, the owned file's colour."""

    name = "nginx"

    def __init__(self, color: Color) -> None:
        self.color = color
        self.thread_reads = 0

    def read_back_within(self, seconds: float) -> ReadBack:
        return ReadBack(True, self.color)

    def read_back(self) -> ReadBack:
        self.thread_reads += 1
        return ReadBack(True, self.color)

    def persisted(self) -> Color | None:
        return self.color


class CountingStore:
    def __init__(self, live: Color) -> None:
        self._live = live
        self.reads: list[str] = []

    def live(self) -> Color | None:
        self.reads.append("live")
        return self._live

    def canary(self) -> Canary | None:
        self.reads.append("canary")
        return None


def _watch(proxy: QuickProxy, store: CountingStore, fixes: list[str]) -> LiveColourWatch:
    def reconcile() -> list[Any]:
        fixes.append("reconcile")
        return []

    return LiveColourWatch(
        proxy,  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        lock=None,  # type: ignore[arg-type]  # only a drift takes it
        notifier=None,  # type: ignore[arg-type]
        canary_in_step=lambda seen, stored: seen.canary == stored,
        reconcile=reconcile,
        service="web",
        stale_after=3.0,
        actor=Actor("agent", "", 0),
        log=lambda _text: None,
    )


def _reading_after(watch: LiveColourWatch, round_: int) -> Color | None:
    assert watch.sampler.wait_past(round_, time.monotonic() + 5)
    return watch.sampler.latest().value


def test_the_quick_read_compares_with_what_the_tick_read_of_the_store() -> None:
    proxy, store, fixes = QuickProxy("blue"), CountingStore("blue"), []
    watch = _watch(proxy, store, fixes)
    try:
        watch.steered(("blue", None))
        assert _reading_after(watch, watch.sampler.request()) == "blue"
        assert store.reads == [] and proxy.thread_reads == 0  # no store read, no thread woken
        watch.steered(None)  # the tick is over: a read outside one asks the store itself
        assert _reading_after(watch, watch.sampler.request()) == "blue"
        assert store.reads == ["live", "canary"] and proxy.thread_reads == 0
    finally:
        watch.close()


def test_a_decision_newer_than_the_ticks_read_goes_to_the_thread_which_fixes_nothing() -> None:
    """The tick read green as live a moment before an operator's switch back to blue: the quick
    read disagrees with it, hands the read to the sampler's thread, which reads the store again,
    finds everything in step and reconciles nothing."""
    proxy, store, fixes = QuickProxy("blue"), CountingStore("blue"), []
    watch = _watch(proxy, store, fixes)
    try:
        watch.steered(("green", None))
        assert _reading_after(watch, watch.sampler.request()) == "blue"
        assert proxy.thread_reads == 1 and store.reads == ["live", "canary"]
        assert fixes == [] and watch.fixes == 0
    finally:
        watch.close()
