"""LogPatternWatcher: regex match on plain or ANSI-coloured lines, sticky until reset."""

from __future__ import annotations

from console.drivers.checks import LogPatternWatcher

COLOURED = (
    "\x1b[2m2024-05-01T10:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[1mcatchup\x1b[0m: "
    "\x1b[2mcometindex::indexer\x1b[0m: catchup \x1b[3mcompleted\x1b[0m "
    '\x1b[3mwhy\x1b[0m="already caught up"'
)


def test_seen_is_sticky_until_reset() -> None:
    watcher = LogPatternWatcher("catchup completed")
    assert watcher.feed("Processing block height 10 with 0 transactions") is False
    assert watcher.feed('INFO catchup: cometindex::indexer: catchup completed why="x"') is True
    assert watcher.feed("Processing block height 11 with 0 transactions") is True
    watcher.reset()
    assert watcher.seen is False
    assert watcher.feed("Processing block height 12 with 0 transactions") is False


def test_matches_through_ansi_colour_codes() -> None:
    assert LogPatternWatcher("catchup completed").feed(COLOURED)


def test_pattern_is_a_regular_expression() -> None:
    watcher = LogPatternWatcher(r"catchup completed why=\"already caught up\"")
    assert not watcher.feed('catchup completed why="batch done"')
    assert watcher.feed('catchup completed why="already caught up"')
