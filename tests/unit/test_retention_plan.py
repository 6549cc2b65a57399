"""The retention plan and the named rollback's plan as pure decisions: a real store, the engine's
answers given (the integration modules run them on a real Docker Engine)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from console.core.config.schema import Config, ImageConfig, SlotConfig
from console.core.contracts.runtime import ContainerInfo, ImageInfo, ImageInUse
from console.core.holds import Freeze
from console.core.model import Actor, Color, SlotState, SlotStatus, SwitchPolicy
from console.core.ops.named_rollback import catch_up_line, plan_named_rollback
from console.core.ops.retention import plan_prune, prune_after_switch
from console.core.store.store import Store
from console.drivers.docker.images import _epoch

REPO = "reg.example.com/app"
SLOTS = {color: SlotConfig(container=f"app-{color}") for color in ("blue", "green")}
ACTOR = Actor("tester")


@dataclass
class Engine:
    """What the engine answers: tags (newest last), running image ids, containers by name."""

    images: list[ImageInfo] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    containers: dict[str, ContainerInfo] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)

    def list_images(self, repository: str) -> list[ImageInfo]:
        return [i for i in self.images if i.ref.startswith(f"{repository}:")]

    def image_ids_in_use(self) -> set[str]:
        return set(self.running)

    def inspect(self, name: str) -> ContainerInfo | None:
        return self.containers.get(name)

    def remove_image(self, ref: str) -> None:
        if ref in self.refuse:
            raise ImageInUse(f"Image {ref} is used by a container; it was kept.")
        self.removed.append(ref)
        self.images = [i for i in self.images if i.ref != ref]


class Notifier:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, kind: str, text: str, level: str = "info") -> None:
        self.sent.append(f"{kind}: {text}")


@dataclass
class Inst:
    store: Store
    runtime: Engine
    config: Config
    notifier: Notifier = field(default_factory=Notifier)

    def resolve_image(self, image: str) -> str:
        return f"{REPO}:{image}" if ":" not in image else image


def _image(tag: str, at: float, image_id: str | None = None, tags: int = 1) -> ImageInfo:
    return ImageInfo(f"{REPO}:{tag}", image_id or f"sha256:{tag}", at, 1000, tags)


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Inst]:
    store = Store.open(tmp_path / "state")
    images = [_image(f"v{n}", float(n)) for n in range(1, 6)]  # v5 newest
    config = Config(service="app", image=ImageConfig(repository=REPO, keep=2), slots=SLOTS)
    yield Inst(store, Engine(images), config)
    store.close()


def _live(inst: Inst, live: Color, live_tag: str, previous_tag: str | None) -> None:
    other: Color = "blue" if live == "green" else "green"
    if previous_tag:
        inst.store.create_deployment(
            other, f"{REPO}:{previous_tag}", previous_tag, SwitchPolicy.CONFIRM, "t", {}, None
        )
    inst.store.create_deployment(
        live, f"{REPO}:{live_tag}", live_tag, SwitchPolicy.CONFIRM, "t", {}, None
    )
    inst.store.set_live(live, other if previous_tag else None)


def test_keep_counts_the_newest_built_and_never_removes_a_colour_or_a_running_image(
    inst: Inst,
) -> None:
    _live(inst, "green", "v1", "v2")  # old versions on both colours (a rollback happened)
    inst.runtime.running = {"sha256:v3"}  # someone else's container runs v3
    plan = plan_prune(inst, 2)  # type: ignore[arg-type]
    assert [i.ref for i in plan.remove] == []  # v5, v4 newest; v3 running; v2, v1 colours'
    inst.runtime.running = set()
    plan = plan_prune(inst, 2)  # type: ignore[arg-type]
    assert [i.ref for i in plan.remove] == [f"{REPO}:v3"]
    assert {k.image.ref.rsplit(":")[-1]: k.why for k in plan.kept} == {
        "v5": "newest 2",
        "v4": "newest 2",
        "v2": "kept for rollback (blue)",
        "v1": "live (green)",
    }


def test_a_tag_of_a_protected_image_is_kept_and_shared_bytes_are_not_counted_as_freed(
    inst: Inst,
) -> None:
    images = inst.runtime.images
    images[:] = [i for i in images if i.ref.rsplit(":")[-1] not in ("v1", "v2", "v3")]
    images.append(_image("v1", 1.0, tags=2))
    images.append(_image("latest", 0.5, image_id="sha256:v1", tags=2))  # old, = v1's id
    images.append(_image("v2", 2.0, tags=2))
    images.append(_image("v0", 0.1, image_id="sha256:v2", tags=2))  # = v2's id
    images.append(_image("v3", 3.0, tags=2))  # its other tag is another repository's
    _live(inst, "blue", "v1", None)
    plan = plan_prune(inst, 2)  # type: ignore[arg-type]
    removed = [i.ref.rsplit(":")[-1] for i in plan.remove]
    assert removed == ["v3", "v2", "v0"]  # latest shares the live image's id: kept
    assert plan.frees == 1000  # v2's image (both its tags go), once; v3 is only untagged
    assert f"{REPO}:v3 (1000 B, one of its 2 tags)" in plan.describe_removal("Would remove")


def test_after_a_switch_a_refusal_is_a_warning_and_the_rest_is_audited(inst: Inst) -> None:
    _live(inst, "green", "v5", "v4")
    inst.runtime.refuse = {f"{REPO}:v2"}
    said = list(prune_after_switch(inst, ACTOR))  # type: ignore[arg-type]
    assert inst.runtime.removed == [f"{REPO}:v3", f"{REPO}:v1"]
    assert [e.level for e in said] == ["warning", "info"]
    assert said[-1].text.startswith("app: Removed 2 images (about 2.0 KiB freed)")
    events = [e for e in inst.store.events(limit=5) if e.kind == "prune"]
    assert events and events[0].actor == "tester"
    assert inst.notifier.sent and inst.notifier.sent[0].startswith("prune: app: Removed 2")


def test_keep_unset_prunes_nothing_and_asks_the_engine_nothing(inst: Inst) -> None:
    inst.config = Config(service="app", image=ImageConfig(repository=REPO))
    inst.runtime = None  # type: ignore[assignment]
    assert list(prune_after_switch(inst, ACTOR)) == []  # type: ignore[arg-type]


def test_named_rollback_plans(inst: Inst) -> None:
    _live(inst, "green", "v5", "v4")
    blocked = plan_named_rollback(inst, "v9")  # type: ignore[arg-type]
    assert blocked.blocked_reason == (
        f"app has no image {REPO}:v9 on this host (a rollback never pulls); the retained "
        "versions are v5, v4, v3, v2, v1."
    )
    live = plan_named_rollback(inst, "v5")  # type: ignore[arg-type]
    assert live.blocked_reason == f"v5 is already live in green ({REPO}:v5)."
    older = plan_named_rollback(inst, "v2")  # type: ignore[arg-type]
    assert older.blocked_reason is None and not older.instant
    assert (older.from_color, older.to_color, older.resume_deployment) == ("green", "blue", None)
    assert older.question() == (
        f"Roll back app to v2: deploy {REPO}:v2 into blue, wait until it has caught up, then "
        "switch green → blue?"
    )
    # The previous colour's container does not run (so no instant rollback): a deploy.
    assert not plan_named_rollback(inst, "v4").instant  # type: ignore[arg-type]


def test_the_catch_up_line_says_progress_and_eta() -> None:
    status = SlotStatus(
        "blue",
        SlotState.SYNCING,
        deployment_id=7,
        height=1200,
        head=3000,
        progress=0.4,
        eta_seconds=65.0,
    )
    line = catch_up_line("blue", "v2", status, 7)
    assert line == "blue catches up on v2 before the switch: 1,200 / 3,000 (40 %), ETA 1m05s."
    assert catch_up_line("blue", "v2", None, 7).endswith(": starting.")


def test_engine_times_keep_their_nanoseconds() -> None:
    assert _epoch("2026-12-06T19:23:41.123456789Z", 0.0) == pytest.approx(1796585021.1234567)
    assert _epoch("garbage", 5.0) == 5.0


def test_a_freeze_lets_a_rollback_that_deploys_through(inst: Inst) -> None:
    _live(inst, "green", "v5", "v4")
    inst.store.set_freeze(Freeze("no releases until Monday", "alice", time.time() - 60))
    plan = plan_named_rollback(inst, "v2")  # type: ignore[arg-type]
    assert plan.blocked_reason is None and not plan.instant  # a way back always stays open
