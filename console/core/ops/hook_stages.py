"""Where each stage's hooks run in the operations: `pre-deploy` before a deploy changes anything,
`pre-switch` before the proxy is touched, `post-switch` / `post-rollback` once traffic has moved
(their failure is recorded and notified, never undone), `post-ready` once per deployment from the
agent (`run_post_ready`)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator

from console.core.config.hooks import Stage, hooks_at
from console.core.hooks.outcome import HookRun
from console.core.hooks.run import StageContext, run_stage
from console.core.installation import Installation, image_version
from console.core.model import Actor, Color, Deployment, OperationEvent, Outcome
from console.core.redact import MASK


def pre_deploy(
    inst: Installation, color: Color, ref: str, env: dict[str, str] | None, actor: Actor
) -> Generator[OperationEvent, None, str | None]:
    """The pre-deploy hooks, with the new image and `color`'s environment; why the deploy stops
    (one paragraph), or None."""
    if not hooks_at(inst.config.hooks, "pre-deploy"):
        return None
    # Imported here: deploy imports the canary, which imports switching, which imports this.
    from console.core.ops.deploy import container_spec, template_values

    version = image_version(ref)
    context = StageContext(
        "pre-deploy",
        color,
        ref,
        version,
        actor,
        None,
        container_spec(inst, color, ref, 0, env),
        template_values(inst, color, version),
    )
    failed = yield from run_stage(inst, context)
    if failed is None:
        return None
    return (
        f"Deploy of {ref} into {color} stopped: {failed.sentence()} Nothing was changed: "
        f"{color}'s container and the live colour are as they were."
    )


def deployment_stage(
    inst: Installation, stage: Stage, color: Color, actor: Actor
) -> Generator[OperationEvent, None, HookRun | None]:
    """`stage`'s hooks for the version in `color` (its latest deployment's image and env)."""
    if not hooks_at(inst.config.hooks, stage):
        return None
    deployment = inst.store.active_deployment(color) or inst.store.latest_deployment(color)
    return (yield from run_stage(inst, deployment_context(inst, stage, color, deployment, actor)))


def deployment_context(
    inst: Installation, stage: Stage, color: Color, deployment: Deployment | None, actor: Actor
) -> StageContext:
    from console.core.ops.deploy import container_spec, template_values  # see pre_deploy

    if deployment is None:  # adopted from older scripts: no image of ours to run
        status = inst.store.slot_status(color)
        image = (status.image if status else None) or ""
        return StageContext(stage, color, image, image_version(image), actor, None, None)
    # The deploy's --env overrides are stored redacted: a masked one is left to the config's.
    overrides = {k: v for k, v in deployment.env.items() if MASK not in v}
    spec = container_spec(inst, color, deployment.image, deployment.id, overrides)
    values = template_values(inst, color, deployment.version)
    return StageContext(
        stage, color, deployment.image, deployment.version, actor, deployment.id, spec, values
    )


def then_post_stage(
    events: Iterable[OperationEvent], inst: Installation, stage: Stage, color: Color, actor: Actor
) -> Iterator[OperationEvent]:
    """`events` (a switch or rollback), then, if it succeeded, `stage`'s hooks before its
    Outcome: a failing post-hook is recorded and notified; traffic stays where it went."""
    outcome: Outcome | None = None
    for event in events:
        if isinstance(event, Outcome):
            outcome = event
            continue
        yield event
    if outcome is not None and outcome.ok:
        yield from deployment_stage(inst, stage, color, actor)
    if outcome is not None:
        yield outcome


def run_post_ready(
    inst: Installation, actor: Actor, deployment: Deployment, log: Callable[[str], None]
) -> None:
    """The agent's post-ready hooks for a deployment that has just become ready."""
    context = deployment_context(inst, "post-ready", deployment.color, deployment, actor)
    for event in run_stage(inst, context):
        log(f"post-ready #{deployment.id}: {getattr(event, 'text', event)}")
