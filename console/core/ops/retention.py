"""Image retention: keep the last `[image] keep` images of the service, remove the older ones —
after a successful switch (the agent's or an operator's) and on demand (`bluegreen prune`).

The service's images are the tags of its configured repository (`[image] repository`; without
one, the repositories its deployments used). Newest means built most recently, as Kamal and
`docker image prune` count: a version rolled back to is protected while a colour holds it, not
because it was deployed lately. Never removed, whatever `keep`
says: both colours' images (the live one and the one kept for rollback), every deployment not yet
ended, and any image a running container on this host uses — anyone's. The engine is never
forced: an image a stopped container still uses is kept and said so.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

from console.core.contracts.runtime import ContainerRuntimeError, ImageInfo
from console.core.installation import Installation, image_version
from console.core.measures.resources import size_text
from console.core.model import COLORS, Actor, OperationEvent, Outcome, Progress
from console.core.ops.operation import describe_failure, mutating

# How many deployments are read to find the repositories when none is configured.
_DEPLOYMENTS_READ = 500


@dataclass(frozen=True, slots=True)
class Kept:
    image: ImageInfo
    why: str  # "newest 3", "live (blue)", "used by a running container", …


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What a prune with `keep` would do now: the tags to remove (oldest last) and why the
    others stay. `frees` counts an image once, and only if all its tags go."""

    keep: int
    remove: tuple[ImageInfo, ...]
    kept: tuple[Kept, ...]
    frees: int

    def describe_removal(self, done: str) -> str:
        """'Removed 2 images of web (about 1.2 GiB freed): a:v1 (600 MiB), a:v2 (600 MiB).'"""
        listed = ", ".join(f"{image.ref} ({_size(image)})" for image in self.remove)
        plural = "s" if len(self.remove) != 1 else ""
        freed = size_text(self.frees)
        return f"{done} {len(self.remove)} image{plural} (about {freed} freed): {listed}."


def _size(image: ImageInfo) -> str:
    """Its size, or that removing this tag only untags an image other tags keep."""
    if image.tags > 1:
        return f"{size_text(image.size)}, one of its {image.tags} tags"
    return size_text(image.size)


def repositories(inst: Installation) -> list[str]:
    """The repositories whose tags are this service's images."""
    if inst.config.image.repository:
        return [inst.config.image.repository]
    seen: dict[str, None] = {}
    for deployment in inst.store.deployments(limit=_DEPLOYMENTS_READ):
        if "@" not in deployment.image:
            seen.setdefault(_repository_of(deployment.image), None)
    return list(seen)


def _repository_of(ref: str) -> str:
    name, _, last = ref.rpartition("/")
    repo = last.split(":", 1)[0]
    return f"{name}/{repo}" if name else repo


def retained(inst: Installation) -> list[ImageInfo]:
    """Every image of the service on this host, newest built first."""
    images = [image for repo in repositories(inst) for image in inst.runtime.list_images(repo)]
    return sorted(images, key=lambda image: (-image.created, image.ref))


def retained_versions(inst: Installation) -> list[str]:
    return [image_version(image.ref) for image in retained(inst)]


def _protected(inst: Installation) -> tuple[dict[str, str], dict[str, str]]:
    """Refs and image ids that must stay, each with why."""
    store = inst.store
    live, previous = store.live(), store.previous()
    refs: dict[str, str] = {}
    ids: dict[str, str] = {}
    for color in COLORS:
        role = "live" if color == live else "kept for rollback" if color == previous else "idle"
        why = f"{role} ({color})"
        for deployment in (store.latest_deployment(color), store.active_deployment(color)):
            if deployment is not None:
                refs.setdefault(deployment.image, why)
        container = inst.runtime.inspect(inst.config.slot(color).container)
        if container is not None:
            refs.setdefault(container.image, why)
    for image_id in inst.runtime.image_ids_in_use():
        ids.setdefault(image_id, "used by a running container")
    return refs, ids


def plan_prune(inst: Installation, keep: int) -> PrunePlan:
    images = retained(inst)
    refs, ids = _protected(inst)
    for image in images:  # a protected tag protects its image (another tag of it untags nothing)
        if image.ref in refs:
            ids.setdefault(image.id, refs[image.ref])
    remove: list[ImageInfo] = []
    kept: list[Kept] = []
    for rank, image in enumerate(images):
        why = refs.get(image.ref) or ids.get(image.id)
        if why is None and rank < keep:
            why = f"newest {keep}"
        if why is None:
            remove.append(image)
        else:
            kept.append(Kept(image, why))
    return PrunePlan(keep, tuple(remove), tuple(kept), _freed(remove))


def _freed(removed: list[ImageInfo]) -> int:
    """Bytes the engine gives back: each image once, and only when every one of its tags (in
    any repository) is among those removed — removing one of several tags only untags."""
    going: dict[str, int] = {}
    for image in removed:
        going[image.id] = going.get(image.id, 0) + 1
    return sum({i.id: i.size for i in removed if going[i.id] >= i.tags}.values())


def prune(
    inst: Installation,
    actor: Actor,
    keep: int | None = None,
    dry_run: bool = False,
    read_only: bool = False,
) -> Iterator[OperationEvent]:
    """`bluegreen prune [--dry-run]`: the same removal a switch does, now (keep: `[image] keep`
    unless given). A dry run changes nothing, so it needs no lock and is allowed read-only."""
    keep = inst.config.image.keep if keep is None else keep
    service = inst.config.service
    if keep <= 0:
        yield Outcome(
            False,
            f"{service} keeps every image ([image] keep is not set): set [image] keep = N, "
            "or pass --keep N.",
        )
        return
    if dry_run:
        plan = plan_prune(inst, keep)
        for kept_one in plan.kept:
            yield Progress(f"keep   {kept_one.image.ref} ({kept_one.why})")
        for image in plan.remove:
            yield Progress(f"remove {image.ref} ({_size(image)})")
        text = plan.describe_removal("Would remove") if plan.remove else "Nothing to remove."
        yield Outcome(True, f"{service}: {text} Nothing was changed (dry run).")
        return
    with mutating(inst, "prune", actor, read_only):
        yield from prune_locked(inst, actor, keep)


def prune_locked(inst: Installation, actor: Actor, keep: int) -> Iterator[OperationEvent]:
    """`prune` under the operator lock the caller holds: what stays and why, each removal."""
    plan = plan_prune(inst, keep)
    for kept_one in plan.kept:
        yield Progress(f"keep   {kept_one.image.ref} ({kept_one.why})")
    summary = yield from _remove(inst, actor, plan)
    yield Outcome(True, summary or f"{inst.config.service}: nothing to remove (keeping {keep}).")


def prune_after_switch(inst: Installation, actor: Actor) -> Iterator[OperationEvent]:
    """After a successful switch, with its lock held: the retention `[image] keep` asks for.
    Never fails the switch: a problem is one warning line. Nothing at all without `keep`."""
    keep = inst.config.image.keep
    if keep <= 0:
        return
    try:
        summary = yield from _remove(inst, actor, plan_prune(inst, keep), quiet=True)
    except Exception as exc:  # Docker or the store: the switch itself is done
        yield Progress(f"Old images were not pruned: {describe_failure(exc)}", "warning")
        return
    if summary:
        yield Progress(summary)


def _remove(
    inst: Installation, actor: Actor, plan: PrunePlan, quiet: bool = False
) -> Generator[OperationEvent, None, str | None]:
    """Remove the plan's tags (a refusal is a warning, the tag stays); audit and notify what
    went. The summary sentence, or None when nothing was removed."""
    removed: list[ImageInfo] = []
    for image in plan.remove:
        try:
            inst.runtime.remove_image(image.ref)
        except ContainerRuntimeError as exc:
            yield Progress(describe_failure(exc), "warning")
            continue
        removed.append(image)
        if not quiet:
            yield Progress(f"removed {image.ref} ({_size(image)})")
    if not removed:
        return None
    done = PrunePlan(plan.keep, tuple(removed), plan.kept, _freed(removed))
    text = (
        f"{inst.config.service}: {done.describe_removal('Removed')} "
        f"Kept the newest {plan.keep} and the images in use."
    )
    inst.store.record_event("prune", text, "info", str(actor))
    inst.notifier.send("prune", text)
    return text
