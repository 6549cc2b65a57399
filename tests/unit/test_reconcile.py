"""Reconcile and the rollback plan on a real store, with a fake proxy and Docker (pure decisions).

First install vs. adoption: the proxy names a colour before anything is deployed (its default), so
that alone must never make a colour live; a running container that no bluegreen deployment owns is
what users get today, and is adopted. No previous colour is invented for either.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from console.core.contracts.proxy import ReadBack
from console.core.contracts.runtime import ContainerInfo
from console.core.installation import LABEL_DEPLOYMENT
from console.core.model import (
    Actor,
    Canary,
    Color,
    Condition,
    Phase,
    SlotState,
    SlotStatus,
    SwitchPolicy,
)
from console.core.ops.reconcile import reconcile, reconcile_live
from console.core.ops.switching import plan_rollback
from console.core.store.store import Store

ACTOR = Actor("tester")


@dataclass
class FakeProxy:
    routes_to: Color | None = "blue"  # nginx's default before anything was deployed
    installed: list[Color] = field(default_factory=list)
    canary: Canary | None = None  # what the running proxy sends to the idle colour
    file_canary: Canary | None = None  # what its file records
    canaries_set: list[Canary | None] = field(default_factory=list)
    answers: bool = True  # False: a proxy that says nothing (stalled, down)
    file_live: Color | None = None  # what its file records; None: the same as routes_to
    files_written: list[Color | None] = field(default_factory=list)

    def current(self) -> Color | None:
        return self.routes_to

    def persisted(self) -> Color | None:
        return self.file_live or self.routes_to

    def read_back(self) -> ReadBack:
        if not self.answers:
            return ReadBack(False, None, None)
        return ReadBack(True, self.routes_to, self.canary)

    def persisted_canary(self) -> Canary | None:
        return self.file_canary

    def set_canary(self, canary: Canary | None) -> None:
        self.canaries_set.append(canary)
        self.canary = self.file_canary = canary

    def install(self, live: Color, canary: Canary | None = None) -> None:
        self.installed.append(live)
        self.routes_to = self.file_live = live

    def write_files(self, live: Color, canary: Canary | None = None) -> tuple[str, ...]:
        self.files_written.append(live)
        self.file_live = live
        return ("location.conf",)


@dataclass
class FakeRuntime:
    containers: dict[str, ContainerInfo] = field(default_factory=dict)

    def inspect(self, name: str) -> ContainerInfo | None:
        return self.containers.get(name)


@dataclass
class FakeSlot:
    container: str


class FakeConfig:
    def slot(self, color: Color) -> FakeSlot:
        return FakeSlot(f"svc-{color}")


@dataclass
class FakeInstallation:
    store: Store
    proxy: FakeProxy = field(default_factory=FakeProxy)
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    config: FakeConfig = field(default_factory=FakeConfig)


def _running(color: Color, labels: dict[str, str] | None = None) -> ContainerInfo:
    return ContainerInfo(
        name=f"svc-{color}",
        id=f"id-{color}",
        image="explorer:v1",
        labels=labels or {},
        state="running",
        running=True,
        exit_code=None,
        health=None,
        restart_count=0,
        started_at=1.0,
        finished_at=None,
        error=None,
        oom_killed=False,
    )


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[FakeInstallation]:
    store = Store.open(tmp_path / "state")
    yield FakeInstallation(store)
    store.close()


def _reconcile(inst: FakeInstallation) -> list[Any]:
    return reconcile(inst, ACTOR)  # type: ignore[arg-type]


def _deployment(inst: FakeInstallation, color: Color, phase: Phase) -> int:
    record = inst.store.create_deployment(
        color, "explorer:v1", "v1", SwitchPolicy.AUTO, "tester", {}, None
    )
    inst.store.set_phase(record.id, phase)
    return record.id


def test_proxy_default_with_nothing_running_is_not_live(inst: FakeInstallation) -> None:
    assert _reconcile(inst) == []
    assert (inst.store.live(), inst.store.previous()) == (None, None)


@pytest.mark.parametrize("phase", [Phase.STARTING, Phase.SYNCING, Phase.READY])
def test_first_deployment_on_its_way_through_the_gate_is_not_adopted(
    inst: FakeInstallation, phase: Phase
) -> None:
    deployment_id = _deployment(inst, "blue", phase)
    inst.runtime.containers["svc-blue"] = _running("blue", {LABEL_DEPLOYMENT: str(deployment_id)})
    assert _reconcile(inst) == []
    assert inst.store.live() is None
    assert inst.store.deployment(deployment_id).phase == phase  # type: ignore[union-attr]
    assert [e.kind for e in inst.store.events()] == []


def test_container_no_deployment_owns_is_adopted_without_a_previous(
    inst: FakeInstallation,
) -> None:
    inst.runtime.containers["svc-blue"] = _running("blue")  # started by the old scripts
    inst.store.put_slot_status(
        SlotStatus(
            "blue",
            SlotState.READY,
            conditions=(Condition("lag ≤ 2 held 3 s", False, "held 1.0 s of 3 s"),),
        )
    )
    drifts = _reconcile(inst)
    assert [d.adoption for d in drifts] == [True]
    assert (inst.store.live(), inst.store.previous()) == ("blue", None)
    events = inst.store.events()
    assert [(e.kind, e.level) for e in events] == [("adoption", "info")]
    assert "did not hold at adoption: lag ≤ 2 held 3 s (held 1.0 s of 3 s)" in events[0].text
    assert " green" not in events[0].text.replace("bluegreen", "")


def test_adoption_says_when_the_gate_was_not_evaluated(inst: FakeInstallation) -> None:
    inst.runtime.containers["svc-green"] = _running("green", {LABEL_DEPLOYMENT: "41"})
    inst.proxy.routes_to = "green"
    _reconcile(inst)
    assert inst.store.live() == "green"
    assert "has not been evaluated yet" in inst.store.events()[0].text


def test_crash_mid_first_switch_is_settled_as_that_switch(inst: FakeInstallation) -> None:
    deployment_id = _deployment(inst, "blue", Phase.SWITCHING)
    inst.runtime.containers["svc-blue"] = _running("blue", {LABEL_DEPLOYMENT: str(deployment_id)})
    _reconcile(inst)
    assert (inst.store.live(), inst.store.previous()) == ("blue", None)
    assert inst.store.deployment(deployment_id).phase == Phase.LIVE  # type: ignore[union-attr]


def test_store_behind_the_proxy_keeps_the_real_previous(inst: FakeInstallation) -> None:
    inst.store.set_live("blue", None)
    inst.proxy.routes_to = "green"
    _reconcile(inst)
    assert (inst.store.live(), inst.store.previous()) == ("green", "blue")


def test_a_file_behind_the_running_proxy_is_rewritten_without_routing_again(
    inst: FakeInstallation,
) -> None:
    """Re-applying what the proxy already routes to would, once a reload settles, undo a move
    made in between — and the next tick would see no drift: status would lie."""
    inst.store.set_live("green", "blue")
    inst.proxy.routes_to, inst.proxy.file_live = "green", "blue"
    drifts = reconcile_live(inst, ACTOR)  # type: ignore[arg-type]
    assert inst.proxy.files_written == ["green"] and inst.proxy.installed == []
    assert [d.fixed for d in drifts] == ["file rewritten for green"]


def test_a_silent_proxy_is_installed_from_the_store(inst: FakeInstallation) -> None:
    """Nothing answers and no file says: the store decides, and the proxy is made to agree."""
    inst.store.set_live("green", "blue")
    inst.proxy.answers, inst.proxy.routes_to = False, None
    reconcile_live(inst, ACTOR)  # type: ignore[arg-type]
    assert inst.proxy.installed == ["green"] and inst.proxy.files_written == []


def test_rollback_with_one_colour_ever_live_is_refused_with_a_sentence(
    inst: FakeInstallation,
) -> None:
    inst.store.set_live("blue", None)
    inst.store.put_slot_status(SlotStatus("green", SlotState.READY, container_state="running"))
    plan = plan_rollback(inst)  # type: ignore[arg-type]
    assert plan.to_color is None
    assert plan.blocked_reason is not None
    assert plan.blocked_reason.startswith("No colour was live before blue")


def test_rollback_targets_the_colour_that_was_live(inst: FakeInstallation) -> None:
    inst.store.set_live("green", "blue")
    inst.store.put_slot_status(SlotStatus("blue", SlotState.STOPPED, container_state="running"))
    plan = plan_rollback(inst)  # type: ignore[arg-type]
    assert (plan.from_color, plan.to_color, plan.blocked_reason) == ("green", "blue", None)


def test_a_canary_set_outside_bluegreen_is_adopted_by_the_store_and_named(
    inst: FakeInstallation,
) -> None:
    inst.store.set_live("blue", None)
    inst.proxy.canary = Canary("green", 30)  # someone POSTed to the admin socket
    drifts = reconcile_live(inst, ACTOR, changed_outside=True)  # type: ignore[arg-type]
    assert inst.store.canary() == Canary("green", 30)
    whats = [d.what for d in drifts]
    assert any("canary weight changed outside bluegreen" in w and "30 %" in w for w in whats)
    # the file did not record it: rewritten so a restart keeps what clients get
    assert inst.proxy.canaries_set == [Canary("green", 30)]
    events = [e for e in inst.store.events() if e.kind == "drift"]
    assert any("outside bluegreen" in e.text for e in events)
    assert reconcile_live(inst, ACTOR, changed_outside=True) == []  # type: ignore[arg-type]


def test_a_canary_ended_outside_bluegreen_clears_the_store(inst: FakeInstallation) -> None:
    inst.store.set_live("blue", None)
    inst.store.set_canary(Canary("green", 10))
    inst.proxy.canary = inst.proxy.file_canary = None
    drifts = _reconcile(inst)
    assert inst.store.canary() is None
    assert any("The store said 10 % of clients to green" in d.what for d in drifts)


def test_a_canary_for_the_live_colour_counts_as_none(inst: FakeInstallation) -> None:
    inst.store.set_live("blue", None)
    inst.proxy.canary = inst.proxy.file_canary = Canary("blue", 10)
    _reconcile(inst)
    assert inst.store.canary() is None
    assert inst.proxy.canaries_set == [None]  # the stale file entry is cleared
