"""The session-kept switch's operations on a real store, with a fake proxy, engine and notifier:
which sessions a switch keeps, the migration it opens, what a rollback or another switch ends,
what retiring does, and the deploy it refuses. The proxies themselves are tested for real in
tests/integration/test_sessions_proxies.py, the whole flow in test_sessions_kept.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from console.core.config.schema import Config, SlotConfig
from console.core.config.sessions import SessionsConfig
from console.core.contracts.sessions import KeptSessions
from console.core.measures.sessions import SessionCounts
from console.core.model import Actor, Outcome, SlotState, SlotStatus, SwitchPlan
from console.core.ops.sessions import (
    after_route,
    kept_for_switch,
    retire_locked,
    sessions_refusal,
)
from console.core.store.sessions import migration, put_counts
from console.core.store.store import Store

ACTOR = Actor("tester")


@dataclass
class FakeRouter:
    name: str = "nginx (live)"
    rules: list[KeptSessions | None] = field(default_factory=list)

    def set_sessions(self, kept: KeptSessions | None) -> None:
        self.rules.append(kept)

    def kept_sessions(self) -> KeptSessions | None:
        return self.rules[-1] if self.rules else None

    def sessions_seen(self) -> dict[str, int] | None:
        return None


@dataclass
class FakeRuntime:
    stopped: list[str] = field(default_factory=list)

    def stop(self, name: str) -> None:
        self.stopped.append(name)


@dataclass
class FakeNotifier:
    sent: list[str] = field(default_factory=list)

    def send(self, kind: str, text: str, level: str = "info") -> None:
        self.sent.append(f"{kind}: {text}")


@dataclass
class FakeInstallation:
    store: Store
    config: Config
    proxy: FakeRouter = field(default_factory=FakeRouter)
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[FakeInstallation]:
    store = Store.open(tmp_path / "state")
    config = Config(
        service="web",
        slots={"blue": SlotConfig("web-blue", 1), "green": SlotConfig("web-green", 2)},
        sessions=SessionsConfig(cookie="deployment", retire="confirm", timeout_seconds=600),
    )
    store.put_slot_status(SlotStatus("blue", SlotState.LIVE, version="v1.4.0"))
    store.set_live("blue", None)
    yield FakeInstallation(store, config)
    store.close()


PLAN = SwitchPlan("blue", "green", "web:v1.5.0", "v1.5.0", True, ())


def test_a_switch_keeps_the_live_colours_version_only_when_asked(inst: FakeInstallation) -> None:
    assert kept_for_switch(inst, PLAN, None) == (None, None)  # type: ignore[arg-type]
    kept, refusal = kept_for_switch(inst, PLAN, True)  # type: ignore[arg-type]
    assert refusal is None and kept == KeptSessions("blue", "v1.4.0", "green")
    inst.config = replace(inst.config, sessions=replace(inst.config.sessions, value="color"))
    assert kept_for_switch(inst, PLAN, True)[0] == KeptSessions("blue", "blue", "green")  # type: ignore[arg-type]


def test_without_a_sessions_table_keep_sessions_is_refused(inst: FakeInstallation) -> None:
    inst.config = replace(inst.config, sessions=SessionsConfig(enabled=False))
    kept, refusal = kept_for_switch(inst, PLAN, True)  # type: ignore[arg-type]
    assert kept is None and refusal and "needs a [sessions] table" in refusal


def test_a_migration_opens_and_a_rollback_ends_it(inst: FakeInstallation) -> None:
    put_counts(inst.store, SessionCounts(1.0, blue=3, green=0))
    kept = KeptSessions("blue", "v1.4.0", "green")
    inst.store.set_live("green", "blue")
    note = after_route(inst, "green", "switch", ACTOR, kept)  # type: ignore[arg-type]
    assert note == "Sessions kept on blue (cookie deployment=v1.4.0)."
    running = migration(inst.store)
    assert running is not None and running.started_with == 3 and running.retire == "confirm"
    assert sessions_refusal(inst, "blue")  # type: ignore[arg-type]
    inst.store.set_live("blue", "green")
    note = after_route(inst, "blue", "rollback", ACTOR, None)  # type: ignore[arg-type]
    assert note == "Sessions are no longer kept on blue."
    assert inst.proxy.rules[-1] is None and migration(inst.store) is None
    assert [e.text for e in inst.store.events() if e.kind == "sessions"] == [
        "Sessions are no longer kept on blue: rollback to blue."
    ]


def test_retiring_stops_the_old_colour_clears_the_rule_and_says_the_counts(
    inst: FakeInstallation,
) -> None:
    put_counts(inst.store, SessionCounts(1.0, blue=2, green=5))
    inst.store.set_live("green", "blue")
    after_route(inst, "green", "switch", ACTOR, KeptSessions("blue", "v1.4.0", "green"))  # type: ignore[arg-type]
    put_counts(inst.store, SessionCounts(2.0, blue=0, green=7))
    events = list(retire_locked(inst, ACTOR, "0 sessions left"))  # type: ignore[arg-type]
    outcome = events[-1]
    assert isinstance(outcome, Outcome) and outcome.ok, events
    assert inst.runtime.stopped == ["web-blue"]
    assert inst.proxy.rules[-1] is None and migration(inst.store) is None
    assert outcome.text.startswith(
        "Retired blue: 0 sessions left (2 sessions on it at the switch to green, "
    ), outcome.text
    assert outcome.text.endswith(" ago); rollback to it is no longer instant.")
    assert inst.notifier.sent and inst.notifier.sent[0].startswith("retired: web: Retired blue")
    again = list(retire_locked(inst, ACTOR, "again"))  # type: ignore[arg-type]
    assert isinstance(again[-1], Outcome) and not again[-1].ok
